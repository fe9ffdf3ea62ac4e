"""Date formats for staff pages (FORMAT_MODULE_PATH): times to the second, with the zone."""
