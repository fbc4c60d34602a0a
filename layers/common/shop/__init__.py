"""Shop core: domain models, services and DynamoDB repositories shared by every function."""
