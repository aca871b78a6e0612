"""Books a team slot through a client generated from /api/v1/openapi.json alone.

Run by openapi_contract.rs with the generated package on PYTHONPATH:
    python3 book.py BASE_URL EMAIL PASSWORD START_MS
It logs in (the session cookie stays in the client's cookie jar; the CSRF token of the
login answer goes into every write's x-csrf-token parameter, as the document says),
creates a job type and a team, opens the team all week, holds a slot and confirms it.
Prints the confirmed booking as JSON. Any error or unexpected status raises.
"""

import json
import sys

from cflows_api_client import Client
from cflows_api_client.api.capacity import (
    confirm_booking,
    create_booking,
    create_job_type,
    set_hours,
)
from cflows_api_client.api.session import login
from cflows_api_client.api.teams import create_team
from cflows_api_client.models import (
    BookingState,
    JobTypeBody,
    LoginBody,
    NewBooking,
    TeamBody,
    WorkingHours,
    WorkingPeriod,
)

base, email, password, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = Client(base_url=base, raise_on_unexpected_status=True)

me = login.sync(client=client, body=LoginBody(email=email, password=password))
token = me.csrf_token

job = create_job_type.sync(
    client=client,
    body=JobTypeBody(name="Test drive", duration_minutes=60),
    x_csrf_token=token,
)
team = create_team.sync(
    client=client,
    body=TeamBody(name="Workshop", members=[me.user.id], bookable_count=1),
    x_csrf_token=token,
)
set_hours.sync(
    client=client,
    team_id=team.id,
    body=WorkingHours(
        zone="UTC",
        weekly=[WorkingPeriod(weekday=d, start="00:00", end="24:00") for d in range(1, 8)],
        closed=[],
        hold_minutes=15,
    ),
    x_csrf_token=token,
)
held = create_booking.sync(
    client=client,
    team_id=team.id,
    body=NewBooking(job_type=job.id, start=start, hold_seconds=600),
    x_csrf_token=token,
)
assert held.state == BookingState.HELD, held
confirmed = confirm_booking.sync(
    client=client, team_id=team.id, booking_id=held.id, x_csrf_token=token
)
assert confirmed.state == BookingState.CONFIRMED, confirmed
print(json.dumps({"team": team.id, "booking": confirmed.id, "state": confirmed.state.value}))
