"""The one "observe, act, store, update" loop, its logs and plots, and the in-process trainer."""
