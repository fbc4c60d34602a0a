"""The template's parameters for functions run with no database and no data platform behind them."""

from local_runtime.issuer import public_key_parameter

PARAMETERS = {
    "DynamoDbEndpointUrl": "http://127.0.0.1:1",
    "DataPlatformUrl": "http://127.0.0.1:2/orders",
    "LocalTokenPublicKey": public_key_parameter(),
}
