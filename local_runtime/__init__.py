"""Running the template on this machine: DynamoDB Local, tables and seed data, each function instance
in a process of its own (`make run`); and the real `sam local` in Docker (`local_runtime.sam_local`)."""
