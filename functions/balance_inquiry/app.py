"""GET /users/{userId}/balance: a user's balance."""

from shop.api.http import BAD_REQUEST, UserId, create_app, entry_point, refusals
from shop.models.balance import Balance
from shop.services.balance import BalanceService

app = create_app()
service = BalanceService()


@app.get("/users/<userId>/balance", responses={200: {"description": "The balance"}, **refusals(BAD_REQUEST)})
def get_balance(userId: UserId) -> Balance:
    return service.balance(userId)


lambda_handler = entry_point(app)
