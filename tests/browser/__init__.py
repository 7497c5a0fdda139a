"""Browser tests: the real dashboard (`streamlit run app.py`) driven by headless Chromium."""
