"""A toy method with its own frame, for tests only (``tests/test_own_frame_method.py`` puts ``tests/toy_methods`` on
the registry's path): it shows that a method package alone, with a frame other than the datasets' 192 × 256, runs
through ``methods`` and ``tryon`` with nothing else in vton touched."""
