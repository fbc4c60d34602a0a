"""Who the caller is: bearer tokens verified by the HTTP API's Lambda authorizer."""
