"""Is the Hugging Face Hub reachable from here? One answer for the evaluator and the explorer.

Standard library only, so it can run before huggingface_hub is imported (that package reads the offline
flags once, at import).
"""

from __future__ import annotations

import urllib.error
import urllib.request

from patenteb import settings

HUB_TIMEOUT_S = 3.0


hub_endpoint = settings.hub_endpoint
offline_requested = settings.hub_offline


def hub_is_reachable(timeout_s: float = HUB_TIMEOUT_S) -> bool:
    """False under HF_HUB_OFFLINE or when the Hub does not answer within the timeout; any HTTP answer counts."""
    if offline_requested():
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(hub_endpoint(), method="HEAD"), timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True
