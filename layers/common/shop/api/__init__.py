"""The HTTP edge: the resolver every route function uses and the mapping of errors to the contract."""
