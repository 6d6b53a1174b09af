"""`narrator serve`: the embedded engine behind the services' wire protocols."""
