"""What every package may import: the benchmark's facts and shared helpers; no SQL, no gradio."""
