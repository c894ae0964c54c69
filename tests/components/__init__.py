"""User components written exactly as for Seldon Core's Python wrapper (no mlconsole imports)."""
