"""File input and output: image files, videos through PyAV (probe, read, write, audio), --start/--end
parsing, path checks and the JSON run record."""
