"""The web app's package: the page's handlers and helpers, one job per module; ``app.py`` lays the page out.

``tryon`` and ``compare`` hold the tabs' handlers (bound to the page's named components, ``records.Page``) and keep
each visitor's run server-side (``held``) under the token in its ``gr.State``; ``running`` runs methods,
``messages`` words what happens, ``readiness`` says which methods can run (one Hub check), ``galleries`` writes and
finds stage files by stage key, ``edits`` turns the editors into pipeline inputs, ``report`` is the evaluation part,
``inputs`` the input guard, ``launch`` the patient start, ``space`` the Hugging Face Space helpers, and
``study_app`` / ``study_participant`` / ``study_results`` the user study's pages. The layering follows FastChat's
``fastchat/serve/`` (lm-sys/FastChat): one module per tab, the per-visitor run in state.
"""
