"""Running the template on this machine: DynamoDB Local, tables and seed data, functions in-process."""
