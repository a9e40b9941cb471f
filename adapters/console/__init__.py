"""The console adapter: Guildhall in a terminal, the embedded default when no platform is configured.

``normalize.py`` turns typed lines into events, ``render.py`` turns actions into text, and
``adapter.py`` owns the streams and the REPL. ``demo.py`` seeds a small demo community.
"""
