from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.errors import ServiceError
from integrations.models import Channel, ChannelPolicy
from integrations.selectors.integrations import integration_get
from integrations.selectors.organizations import organization_get
from integrations.services.policies.channel_policy import set_policy


def _pair(text: str, what: str, *, split_last: bool = True) -> tuple[str, str]:
    left, sep, right = text.rpartition("=") if split_last else text.partition("=")
    if not sep or not left or not right:
        raise CommandError(f"{what} is written NAME_OR_ID=VALUE, not '{text}'.")
    return left, right


class Command(BaseCommand):
    help = "Set the routing policy of an organization's channel (weighted split, tag rules)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument("--mode", required=True, choices=ChannelPolicy.Mode.values)
        parser.add_argument("--weight", action="append", default=[], metavar="INTEGRATION=PERCENT",
                            help="Integration id or display name and its percent; repeat (split mode).")
        parser.add_argument("--rule", action="append", default=[], metavar="TAG=INTEGRATION",
                            help="Messages tagged TAG go to INTEGRATION first; repeat, first match wins.")
        parser.add_argument("--on-error", action="append", default=[], metavar="CODE=ACTION",
                            help="Provider error code and retry, fail_over or stop; repeat.")
        parser.add_argument("--reason", default="", help="Why; kept in the audit trail.")
        parser.add_argument("--actor", default="system:cli", help="Actor recorded in the audit trail.")

    def handle(self, *args, org, channel, mode, weight, rule, on_error, reason, actor, **options):
        try:
            organization = organization_get(slug=org)
            weights = {}
            for item in weight:
                ref, percent = _pair(item, "--weight")
                if not percent.isdigit():
                    raise CommandError(f"--weight {item}: the percent is a whole number.")
                weights[str(integration_get(organization=organization, ref=ref, channel=channel).pk)] = int(percent)
            rules = []
            for item in rule:
                tag, ref = _pair(item, "--rule", split_last=False)
                rules.append({"tag": tag, "integration_id": str(integration_get(organization=organization, ref=ref, channel=channel).pk)})
            failure_actions = dict(_pair(item, "--on-error") for item in on_error)
            policy = set_policy(organization=organization, channel=channel, mode=mode, weights=weights,
                                rules=rules, failure_actions=failure_actions, actor=actor, reason=reason)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(self.style.SUCCESS(
            f"{organization.slug}/{channel}: {policy.mode} policy, version {policy.version}"))
