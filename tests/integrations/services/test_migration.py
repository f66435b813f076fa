"""The migration state machine, against the real database and the sandbox providers."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from config.celery import app as celery_app
from integrations.errors import OperationRefused
from integrations.models import OrganizationIntegration, ProviderMigration
from integrations.selectors.migrations import migration_success_rate
from integrations.services.migration.execution import (
    migration_execute,
    migration_rollback,
    rollback_available,
)
from integrations.services.migration.wizard import (
    migration_begin_execute,
    migration_cancel,
    migration_configure,
    migration_send_test_message,
    migration_start,
    migration_test,
)
from integrations.services.routing import resolve
from tests.conftest import join_eager_threads
from tests.factories import make_integration, make_membership, make_user

# Transactional: the route is invalidated on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
State = ProviderMigration.State


@pytest.fixture
def admin_user(db):
    return make_user(username="alice")


@pytest.fixture
def source(organization):
    return make_integration(
        organization=organization, display_name="Sandbox A", config={"label": "a"}
    )


def _configured(organization, admin_user, *, config=None):
    migration = migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=admin_user,
    )
    return migration_configure(
        migration=migration,
        actor=admin_user,
        display_name="Sandbox B",
        config=config or {"label": "b"},
        credentials={"api_key": "sk_new_key_123456"},
    )


def _tested(organization, admin_user):
    migration = _configured(organization, admin_user)
    health = migration_test(migration=migration, actor=admin_user)
    assert health.ok
    migration.refresh_from_db()
    assert migration.state == State.TESTED
    return migration


def test_happy_path_switches_primary_and_logs_every_step(organization, source, admin_user):
    migration = _tested(organization, admin_user)
    migration_begin_execute(migration=migration, actor=admin_user)
    done = migration_execute(migration_id=migration.pk)

    assert done.state == State.COMPLETED
    assert done.progress == 100
    assert done.started_at and done.finished_at
    target = OrganizationIntegration.objects.get(pk=done.target_id)
    source.refresh_from_db()
    assert target.is_primary and not source.is_primary
    assert resolve(organization_id=organization.pk, channel="whatsapp").primary_id == target.pk
    steps = [entry["step"] for entry in done.log]
    for step in (
        "draft",
        "configured",
        "test",
        "executing",
        "validate",
        "setup",
        "verify_health",
        "switch_primary",
        "verify_route",
        "done",
    ):
        assert step in steps
    assert all(entry["at"] for entry in done.log)
    actions = set(
        AuditEvent.objects.for_org(organization)
        .filter(target_id=str(done.pk))
        .values_list("action", flat=True)
    )
    assert {
        "migration.started",
        "migration.configured",
        "migration.tested",
        "migration.executing",
        "migration.step.validate",
        "migration.step.setup",
        "migration.step.verify_health",
        "migration.step.switch_primary",
        "migration.step.verify_route",
        "migration.completed",
    } <= actions
    switched = AuditEvent.objects.for_org(organization).get(action="provider.switched")
    assert str(done.pk) in switched.reason and switched.actor == "user:alice"


def test_second_open_migration_is_refused_and_the_database_forbids_it(
    organization, source, admin_user
):
    migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=admin_user,
    )
    with pytest.raises(OperationRefused) as refused:
        migration_start(
            organization=organization,
            channel="whatsapp",
            provider_name="sandbox_whatsapp",
            actor=make_user(username="bob"),
        )
    assert refused.value.code == "migration_in_progress"
    assert "alice" in refused.value.message
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderMigration.objects.create(
            organization=organization, channel="whatsapp", state=State.TESTED
        )
    # Another channel is independent.
    other = migration_start(
        organization=organization, channel="voip", provider_name="sandbox_voip", actor=admin_user
    )
    assert other.state == State.DRAFT


def test_failed_test_keeps_the_migration_configured_and_execution_refused(
    organization, source, admin_user
):
    migration = _configured(organization, admin_user, config={"health": "down"})
    health = migration_test(migration=migration, actor=admin_user)
    assert not health.ok
    migration.refresh_from_db()
    assert migration.state == State.CONFIGURED
    assert "Connection test failed: down" in migration.error
    with pytest.raises(OperationRefused) as refused:
        migration_begin_execute(migration=migration, actor=admin_user)
    assert refused.value.code == "not_tested"
    assert (
        AuditEvent.objects.for_org(organization)
        .filter(action="migration.tested", outcome="failure")
        .exists()
    )


def test_rollback_after_completion_switches_back(organization, source, admin_user):
    migration = _tested(organization, admin_user)
    migration_begin_execute(migration=migration, actor=admin_user)
    migration_execute(migration_id=migration.pk)
    migration.refresh_from_db()
    assert rollback_available(migration)

    rolled = migration_rollback(
        migration=migration, actor=admin_user, reason="customers complain"
    )
    assert rolled.state == State.ROLLED_BACK
    source.refresh_from_db()
    assert source.is_primary
    assert resolve(organization_id=organization.pk, channel="whatsapp").primary_id == source.pk
    assert AuditEvent.objects.for_org(organization).filter(action="provider.switched").count() == 2
    assert (
        AuditEvent.objects.for_org(organization)
        .filter(action="migration.rolled_back", reason="customers complain")
        .exists()
    )
    with pytest.raises(OperationRefused):
        migration_rollback(migration=rolled, actor=admin_user)


def test_rollback_window_closes(organization, source, admin_user, settings):
    settings.PROVIDER_MIGRATION_ROLLBACK_SECONDS = 60
    migration = _tested(organization, admin_user)
    migration_begin_execute(migration=migration, actor=admin_user)
    migration_execute(migration_id=migration.pk)
    ProviderMigration.objects.filter(pk=migration.pk).update(
        finished_at=timezone.now() - timedelta(minutes=5)
    )
    migration.refresh_from_db()
    with pytest.raises(OperationRefused) as refused:
        migration_rollback(migration=migration, actor=admin_user)
    assert refused.value.code == "rollback_unavailable"


def test_target_going_down_before_execution_fails_without_switching(
    organization, source, admin_user
):
    make_membership(user=admin_user, organization=organization)
    migration = _tested(organization, admin_user)
    target = migration.target
    OrganizationIntegration.objects.filter(pk=target.pk).update(
        config={"label": "b", "health": "down"}
    )
    migration_begin_execute(migration=migration, actor=admin_user)
    failed = migration_execute(migration_id=migration.pk)
    assert failed.state == State.FAILED
    assert failed.progress == 40  # validated and set up; the health check is what failed
    assert failed.log[-1]["step"] == "verify_health" and failed.log[-1]["outcome"] == "failed"
    assert "down" in failed.error
    source.refresh_from_db()
    assert source.is_primary
    assert (
        AuditEvent.objects.for_org(organization)
        .filter(action="migration.failed", outcome="failure")
        .exists()
    )
    # The organization's admins hear about it.
    notices = [m for m in mail.outbox if "migration" in m.subject.lower()]
    assert len(notices) == 1
    assert admin_user.email in notices[0].to
    assert "verify_health" in notices[0].body


def test_rollback_while_executing_stops_the_task(organization, source, admin_user):
    migration = _tested(organization, admin_user)
    migration_begin_execute(migration=migration, actor=admin_user)
    migration_rollback(migration=migration, actor=admin_user)
    after = migration_execute(migration_id=migration.pk)
    assert after.state == State.ROLLED_BACK
    source.refresh_from_db()
    assert source.is_primary


def test_cancel_frees_the_channel(organization, source, admin_user):
    migration = _configured(organization, admin_user)
    migration_cancel(migration=migration, actor=admin_user)
    again = migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=admin_user,
    )
    assert again.state == State.DRAFT


def test_reusing_an_existing_integration(organization, source, admin_user):
    spare = make_integration(
        organization=organization,
        display_name="Spare",
        status=OrganizationIntegration.Status.PENDING,
    )
    migration = migration_start(
        organization=organization,
        channel="whatsapp",
        provider_name="sandbox_whatsapp",
        actor=admin_user,
    )
    configured = migration_configure(
        migration=migration, actor=admin_user, existing_integration_id=spare.pk
    )
    assert configured.target_id == spare.pk and configured.state == State.CONFIGURED
    migration_test(migration=configured, actor=admin_user)
    spare.refresh_from_db()
    assert spare.status == OrganizationIntegration.Status.ACTIVE  # a passing test activates it


def test_flag_off_refuses_migrations(organization, source, admin_user, settings):
    migration = _tested(organization, admin_user)
    settings.PROVIDER_MANAGEMENT_ENABLED = False
    with pytest.raises(OperationRefused) as refused:
        migration_start(
            organization=organization,
            channel="voip",
            provider_name="sandbox_voip",
            actor=admin_user,
        )
    assert refused.value.code == "management_disabled"
    with pytest.raises(OperationRefused):
        migration_begin_execute(migration=migration, actor=admin_user)


def test_task_runs_the_execution(organization, source, admin_user):
    from integrations.tasks import execute_provider_migration

    migration = _tested(organization, admin_user)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        migration_begin_execute(migration=migration, actor=admin_user)
        join_eager_threads()  # eager: it runs beside the caller, in a thread
    finally:
        celery_app.conf.task_always_eager = previous
    migration.refresh_from_db()
    assert migration.state == State.COMPLETED
    assert execute_provider_migration.name == "integrations.execute_provider_migration"
    # Running it again (a redelivered task) changes nothing.
    assert execute_provider_migration.run(str(migration.pk)) == State.COMPLETED


def test_success_rate_counts_finished_migrations_of_90_days(organization):
    now = timezone.now()
    for state, age in (
        (State.COMPLETED, 1),
        (State.COMPLETED, 10),
        (State.FAILED, 20),
        (State.ROLLED_BACK, 30),
        (State.COMPLETED, 120),
        (State.CANCELLED, 2),
    ):
        ProviderMigration.objects.create(
            organization=organization,
            channel="voip",
            state=state,
            finished_at=now - timedelta(days=age),
        )
    rate = migration_success_rate(organization=organization)
    # The rollback is a rollback, not a failure: 2 succeeded of the 3 that ran to an outcome.
    assert rate["total"] == 4 and rate["completed"] == 2 and rate["failed"] == 1 and rate["rolled_back"] == 1
    assert rate["rate"] == pytest.approx(200 / 3)
    # A migration that completed and was then rolled back did succeed.
    ProviderMigration.objects.create(
        organization=organization, channel="voip", state=State.ROLLED_BACK, finished_at=now,
        log=[{"step": "done", "outcome": "ok"}, {"step": "rollback", "outcome": "ok"}],
    )
    rate = migration_success_rate(organization=organization)
    assert rate["succeeded"] == 3 and rate["ran"] == 4 and rate["rate"] == 75.0 and rate["rolled_back"] == 2


def test_test_message_goes_straight_through_the_target(organization, source, admin_user):
    from providers import sandbox

    migration = _tested(organization, admin_user)
    message_id = migration_send_test_message(migration=migration, to="+5491100000000", actor=admin_user)
    assert [(sent["label"], sent["to"], sent["provider_id"]) for sent in sandbox.outbox] == [
        ("b", "+5491100000000", message_id)
    ]
    migration.refresh_from_db()
    assert migration.log[-1]["step"] == "test_message" and migration.log[-1]["outcome"] == "ok"
    with pytest.raises(ValidationError):
        migration_send_test_message(migration=migration, to=" ", actor=admin_user)
