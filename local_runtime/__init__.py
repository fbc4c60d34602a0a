"""Running the template on this machine: DynamoDB Local, tables and seed data, the HTTP API, the functions."""
