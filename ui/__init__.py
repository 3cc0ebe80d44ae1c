"""evsum's Streamlit front end: pages that call the evsum API through ``ui.client``.

Run it with ``evsum ui --api-url URL`` (see ``ui.launch``) or
``streamlit run ui/app.py -- --api-url URL``.
"""
