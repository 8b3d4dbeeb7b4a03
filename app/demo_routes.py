"""Demo mode only: the part of "the app's backend" that mints login tickets.

In a real deployment the company's own backend, which knows who is signed in, mints the ticket.
The demo has no such backend, so this router plays it for the seeded demo users. It exists only
when ``BFF_DEMO=true``, which the configuration allows only in development.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel
from starlette.responses import RedirectResponse

from app.demo import demo_users
from app.deps import SettingsDep
from app.errors import ErrorCode, ProblemError
from app.session.tickets import mint_ticket

router = APIRouter(prefix="/demo", tags=["demo"], include_in_schema=False)


class DemoTicket(BaseModel):
    user: str
    ticket: str


@router.post("/tickets/{user}", response_model=DemoTicket)
async def demo_ticket(user: str, settings: SettingsDep, response: Response) -> DemoTicket:
    found = next((u for u in demo_users() if u.app_user_id == user), None)
    if found is None or settings.ticket_secret is None:
        raise ProblemError(ErrorCode.NOT_FOUND, "No such demo user.")
    response.headers["Cache-Control"] = "no-store"
    ticket = mint_ticket(
        key=settings.ticket_secret.get_secret_value(),
        algorithm=settings.ticket_algorithm,
        audience=settings.ticket_audience,
        issuer=settings.ticket_issuer,
        sub=found.app_user_id,
        meetergo_user_id=found.meetergo_user_id,
        name=found.name,
        ttl=min(60, settings.ticket_max_age),
    )
    return DemoTicket(user=found.app_user_id, ticket=ticket)


root_router = APIRouter(include_in_schema=False)


@root_router.get("/")
@router.get("")
async def demo_home() -> RedirectResponse:
    return RedirectResponse("/demo/", status_code=307)
