"""POST /api/v1/messages/batch/ and the queue depth limit: intake at the providers' speed."""

from __future__ import annotations

from integrations.models import Message
from integrations.services.delivery import intake

V1 = "/api/v1"
BATCH = f"{V1}/messages/batch/"


def _item(n: int, **extra) -> dict:
    return {"to": f"+1415555{n:04d}", "body": f"campaign {n}", **extra}


def test_a_batch_is_stored_in_one_go_and_every_valid_item_is_scheduled(
    api_client, tenant_a, django_capture_on_commit_callbacks
):
    client = api_client(tenant_a.admin)
    items = [_item(n, idempotency_key=f"c-{n}", reference=f"lead-{n}") for n in range(300)]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(BATCH, {"messages": items}, format="json")
    assert response.status_code == 202, response.content[:300]
    body = response.json()
    assert (body["accepted"], body["replayed"], body["invalid"]) == (300, 0, 0)
    assert [r["index"] for r in body["results"]] == list(range(300))
    stored = {str(pk): (to, ref) for pk, to, ref in
              Message.objects.for_org(tenant_a.organization).filter(body__startswith="campaign")
              .values_list("pk", "to", "reference")}
    assert len(stored) == 300
    for n, result in enumerate(body["results"]):
        assert result["result"] == "accepted" and result["status"] == "queued" and result["errors"] == {}
        assert stored[result["id"]] == (f"+1415555{n:04d}", f"lead-{n}")
    assert callbacks, "delivery is scheduled when the transaction commits"


def test_invalid_items_are_answered_per_item_and_not_written(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    before = Message.objects.for_org(tenant_a.organization).count()
    items = [
        _item(1),
        {"to": "not a phone", "body": "x"},              # the service's E.164 rule
        {"to": "+14155550002", "body": ""},               # no body, no attachment
        {"to": "+14155550003", "body": "x", "channel": "voip"},
        "not an object",
        {"to": "+14155550005", "body": "x", "attachments": [{"url": "ftp://x"}]},
        {"body": "no recipient"},                          # the serializer's rule
        _item(7),
    ]
    response = client.post(BATCH, {"messages": items}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["invalid"]) == (2, 6)
    results = body["results"]
    assert [r["result"] for r in results] == ["accepted"] + ["invalid"] * 6 + ["accepted"]
    assert "to" in results[1]["errors"] and "body" in results[2]["errors"] and "channel" in results[3]["errors"]
    assert results[4]["errors"] and "attachments" in results[5]["errors"] and "to" in results[6]["errors"]
    assert all(r["id"] is None for r in results[1:7])
    assert Message.objects.for_org(tenant_a.organization).count() == before + 2


def test_every_item_has_its_own_idempotency_key(api_client, tenant_a):
    client = api_client(tenant_a.admin)
    first = client.post(BATCH, {"messages": [_item(1, idempotency_key="k1"), _item(2, idempotency_key="k2")]},
                        format="json").json()
    # k2 again, k3 new, k3 repeated within the batch, and one item without a key; then k3 for
    # another message, which is refused (a key names one request: tests/security/test_api_inputs.py).
    again = client.post(BATCH, {"messages": [_item(2, idempotency_key="k2"), _item(3, idempotency_key="k3"),
                                             _item(3, idempotency_key="k3"), _item(5), _item(4, idempotency_key="k3")]},
                        format="json")
    assert again.status_code == 202
    results = again.json()["results"]
    assert [r["result"] for r in results] == ["replayed", "accepted", "replayed", "accepted", "invalid"]
    assert results[0]["id"] == first["results"][1]["id"]
    assert results[2]["id"] == results[1]["id"]
    organization = tenant_a.organization
    assert Message.objects.for_org(organization).filter(idempotency_key__in=["k1", "k2", "k3"]).count() == 3
    # A batch of replays only queues nothing: 200.
    replay = client.post(BATCH, {"messages": [_item(1, idempotency_key="k1")]}, format="json")
    assert replay.status_code == 200 and replay.json()["replayed"] == 1


def test_a_key_stored_by_a_concurrent_request_is_replayed_not_duplicated(tenant_a, monkeypatch):
    """The race: another request stores the key between the batch's lookup and its insert."""
    organization = tenant_a.organization
    winner = Message.objects.create(organization=organization, to="+14155550001", body="winner",
                                    idempotency_key="raced")
    real_lookup = intake._stored_by_key
    calls = []

    def lookup_that_misses_the_winner_once(org, keys):
        calls.append(list(keys))
        return {} if len(calls) == 1 else real_lookup(org, keys)

    monkeypatch.setattr(intake, "_stored_by_key", lookup_that_misses_the_winner_once)
    results = intake.send_messages(organization=organization, actor=tenant_a.admin,
                                   items=[{"to": "+14155550001", "body": "winner", "idempotency_key": "raced"},
                                          {"to": "+14155550003", "body": "other"}])
    assert len(calls) == 2, "the insert met the winner's key and looked it up again"
    assert results[0].message.pk == winner.pk and not results[0].created
    assert results[1].created
    assert Message.objects.for_org(organization).filter(idempotency_key="raced").count() == 1
    assert Message.objects.for_org(organization).filter(body="other").count() == 1


def test_an_oversize_batch_answers_413_and_writes_nothing(api_client, tenant_a, settings):
    client = api_client(tenant_a.admin)
    before = Message.objects.count()
    response = client.post(BATCH, {"messages": [_item(n) for n in range(1001)]}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    too_big = client.post(BATCH, {"messages": [_item(n, body="x" * 5000) for n in range(3)]}, format="json")
    assert too_big.status_code == 413
    empty = client.post(BATCH, {"messages": []}, format="json")
    assert empty.status_code == 400 and "messages" in empty.json()["errors"]
    assert Message.objects.count() == before


def test_a_full_queue_answers_429_with_retry_after(api_client, tenant_a, tenant_b, settings):
    settings.MESSAGE_QUEUE_DEPTH_LIMIT = 5
    settings.MESSAGE_QUEUE_RETRY_AFTER = 7
    settings.MESSAGE_QUEUE_DEPTH_CACHE_SECONDS = 0
    client = api_client(tenant_a.admin)
    assert client.post(BATCH, {"messages": [_item(n) for n in range(4)]}, format="json").status_code == 202
    # Four waiting: a batch of two would pass five, so nothing of it is written.
    refused = client.post(BATCH, {"messages": [_item(10), _item(11)]}, format="json")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "7" and refused.json()["code"] == "queue_full"
    assert client.post(f"{V1}/messages/", _item(12), format="json").status_code == 202
    single = client.post(f"{V1}/messages/", _item(13), format="json")
    assert single.status_code == 429 and single["Retry-After"] == "7"
    organization = tenant_a.organization
    assert not Message.objects.for_org(organization).filter(to__in=["+14155550010", "+14155550011", "+14155550013"]).exists()
    # Delivered messages no longer count; other organizations have their own queue.
    Message.objects.for_org(organization).filter(status="queued").update(status="sent")
    assert client.post(f"{V1}/messages/", _item(14), format="json").status_code == 202
    assert api_client(tenant_b.admin).post(f"{V1}/messages/", _item(15), format="json").status_code == 202


def test_the_kept_depth_errs_towards_refusing_between_counts(tenant_a, settings):
    settings.MESSAGE_QUEUE_DEPTH_LIMIT = 3
    settings.MESSAGE_QUEUE_DEPTH_CACHE_SECONDS = 3600
    organization = tenant_a.organization
    results = intake.send_messages(organization=organization, actor=tenant_a.admin,
                                   items=[{"to": "+14155550001", "body": "a"}, {"to": "+14155550002", "body": "b"}])
    assert all(r.created for r in results)
    # Not counted again for an hour, yet what this process queued is added to the kept figure.
    intake.send_message(organization=organization, channel="whatsapp", to="+14155550003", body="c", actor=tenant_a.admin)
    try:
        intake.send_message(organization=organization, channel="whatsapp", to="+14155550004", body="d", actor=tenant_a.admin)
    except intake.queue_depth.QueueFull as exc:
        assert exc.retry_after == settings.MESSAGE_QUEUE_RETRY_AFTER
    else:
        raise AssertionError("the fourth message passed a limit of three")
