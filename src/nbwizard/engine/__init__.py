"""nbwizard's engine: pure logic (settings, catalogs, profiler, YAML I/O...) with no widget imports."""
