"""Repositories: the only code that speaks DynamoDB.

They translate `ClientError`s and `CancellationReasons` into `shop.errors`; nothing above them
imports boto3 or botocore.
"""
