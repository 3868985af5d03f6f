from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sportello.core.models import WorkerHeartbeat
from sportello.core.time import utc_now


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 while the database answers, 503 when it does not.

    The worker's state is reported but does not fail the check: a web process can serve
    customers while the worker restarts.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    worker: dict[str, object]
    if settings.TASKS_BACKEND != "database":
        worker = {"status": "not-needed"}
    elif database != "ok":
        worker = {"status": "unknown"}
    else:
        last_seen = WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True).first()
        if last_seen is None:
            worker = {"status": "missing"}
        else:
            fresh = utc_now() - last_seen <= dt.timedelta(seconds=settings.WORKER_HEARTBEAT_TIMEOUT)
            worker = {"status": "ok" if fresh else "stale", "last_seen": last_seen.isoformat()}
    healthy = database == "ok"
    status = "ok" if healthy and worker["status"] in ("ok", "not-needed") else ("degraded" if healthy else "failing")
    return JsonResponse({"status": status, "database": database, "worker": worker}, status=200 if healthy else 503)
