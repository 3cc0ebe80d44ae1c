"""Streamlit page scripts, registered with ``st.navigation`` in ``ui/app.py``.

Each file is executed by Streamlit as a script; pages only call the API client
and render, with formatting in ``ui.formatting``.  The folder is not called
``pages/`` so that Streamlit's older automatic page discovery never applies.
"""
