"""Scheduled (EventBridge Scheduler, daily): every balance against its ledger, every order against
its PAYMENT entry. `LedgerMismatch` counts what does not add up (0 when everything does); each
finding is logged with the user's id and the amounts."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import budget, tracing
from shop.errors import ReconciliationIncomplete
from shop.models.reconciliation import ScheduledRun
from shop.observability import logger, metrics
from shop.repositories.reconciliation import MoneyRecords
from shop.services.reconciliation import ReconciliationService
from shop.settings import settings

service = ReconciliationService(MoneyRecords(segments=settings().reconciliation_segments))


@tracing.traced
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    budget.start(context)
    run = ScheduledRun.model_validate(event)
    logger.append_keys(scheduled_time=run.scheduled_time, execution_id=run.execution_id)
    try:
        reconciliation = service.run()
    except ReconciliationIncomplete as error:
        logger.error(
            "LEDGER RECONCILIATION INCOMPLETE: the run's time ran out before every record was read",
            extra={"stage": error.stage, "read": error.read},
        )
        raise
    service.publish(reconciliation)
    return {
        "users": reconciliation.users,
        "entries": reconciliation.entries,
        "orders": reconciliation.orders,
        "findings": reconciliation.findings,
        "unsettled": len(reconciliation.unsettled_users),
    }
