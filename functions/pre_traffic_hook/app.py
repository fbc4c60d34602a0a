"""CodeDeploy's pre-traffic hook: the new versions of the probed functions answer a real request as
the contract says, or the deployment is rolled back before any traffic reaches them."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import tracing
from shop.deployments import LifecycleEvent
from shop.observability import logger
from shop.services.smoke_test import PreTrafficSmokeTest, Targets

smoke_test = PreTrafficSmokeTest()


def targets() -> Targets:
    """The versions this deployment publishes (the template sets them on every deploy)."""
    return Targets(
        product_inquiry=os.environ["PRODUCT_INQUIRY_VERSION"],
        balance_inquiry=os.environ["BALANCE_INQUIRY_VERSION"],
        user_id=os.environ["SMOKE_TEST_USER_ID"],
    )


@tracing.traced
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    passed = smoke_test.run(LifecycleEvent.model_validate(event), targets())
    return {"status": "Succeeded" if passed else "Failed"}
