"""PatenTEB explorer: compare models on live patent queries and map their embeddings of real patents.

`explorer.service.Explorer` is the entry point (UI, CLI and benchmark all use it); `explorer.ui.build`
adds the Gradio tab.
"""
