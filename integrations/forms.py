"""A provider's ``ConfigField``s as a Django form: the one translation every screen uses.

The Django admin's integration page, the migration wizard's configuration step and the provider
detail page's "replace credentials" all build their inputs here, and all send what they read to
the services, where ``Provider.validate_config`` (``providers.config``) judges the values. The
API takes the same settings as JSON and splits them with ``providers.config.split_settings``.

Secret fields are password inputs that are never pre-filled; when a value is stored, its masked
hint is shown in the help text and a blank input keeps it.

The dashboard's "is this contact's window open?" lookup is here too: a screen's form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.models import OrganizationIntegration
from integrations.provider_words import provider_text
from integrations.selectors.integrations import masked_credentials
from providers.base import Provider
from providers.config import ConfigField, is_masked_hint
from providers.values import normalize_phone

NAME_FIELD = "display_name"


def form_field(config_field: ConfigField, *, stored_hint: str = "") -> forms.Field:
    """The Django form field for one ``ConfigField``."""
    help_text = provider_text(config_field.help_text)
    label = provider_text(config_field.label)
    if config_field.secret:
        if stored_hint:
            stored = _("Stored: %(hint)s. Leave blank to keep it.") % {"hint": stored_hint}
            help_text = f"{stored} {help_text}".strip()
        return forms.CharField(
            label=label,
            required=config_field.required and not stored_hint,
            help_text=help_text,
            strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        )
    common = {"label": label, "help_text": help_text, "required": config_field.required}
    if config_field.kind == "int":
        return forms.IntegerField(initial=config_field.default, **common)
    if config_field.kind == "float":
        return forms.FloatField(initial=config_field.default, **common)
    if config_field.kind == "bool":
        return forms.BooleanField(initial=bool(config_field.default), **{**common, "required": False})
    if config_field.kind == "choice":
        choices = [("", "—")] + [(choice, choice) for choice in config_field.choices]
        return forms.ChoiceField(choices=choices, initial=config_field.default, **common)
    return forms.CharField(initial=config_field.default, **common)


class ProviderSettingsForm(forms.Form):
    """The provider's settings (and, with ``with_name``, a display name) as one form.

    ``secrets_only`` keeps just the credential inputs (replacing credentials). With
    ``instance``, settings start from what the integration has stored and secrets show hints.
    """

    prefix_config = "cfg__"
    prefix_secret = "cfg__"

    def __init__(
        self,
        data=None,
        *,
        provider_class: type[Provider],
        instance: OrganizationIntegration | None = None,
        with_name: bool = True,
        secrets_only: bool = False,
        **kwargs: Any,
    ):
        super().__init__(data, **kwargs)
        self.provider_class = provider_class
        self.instance = instance
        hints = masked_credentials(instance) if instance is not None else {}
        if with_name:
            self.fields[NAME_FIELD] = forms.CharField(
                label=gettext_lazy("Name"), max_length=120, initial=provider_class.display_name
            )
            if instance is not None:
                self.initial[NAME_FIELD] = instance.display_name
        for config_field in self.config_fields(secrets_only=secrets_only):
            name = self.field_name(config_field)
            self.fields[name] = form_field(config_field, stored_hint=hints.get(config_field.name, ""))
            if instance is not None and not config_field.secret and config_field.name in (instance.config or {}):
                self.initial[name] = instance.config[config_field.name]

    def config_fields(self, *, secrets_only: bool = False) -> tuple[ConfigField, ...]:
        return tuple(f for f in self.provider_class.config_fields if f.secret or not secrets_only)

    @classmethod
    def field_name(cls, config_field: ConfigField) -> str:
        return (cls.prefix_secret if config_field.secret else cls.prefix_config) + config_field.name

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config, credentials) from the cleaned data. Config starts from what is stored, so a
        setting the form does not show is kept; a blank setting is removed; a blank secret (or
        its masked hint) keeps the stored one."""
        config = dict(self.instance.config or {}) if self.instance is not None else {}
        credentials: dict[str, Any] = {}
        for config_field in self.provider_class.config_fields:
            name = self.field_name(config_field)
            if name not in self.fields:
                continue
            value = self.cleaned_data.get(name)
            if config_field.secret:
                if value not in (None, "") and not is_masked_hint(value):
                    credentials[config_field.name] = value
            elif value in (None, ""):
                config.pop(config_field.name, None)
            else:
                config[config_field.name] = value
        return config, credentials

    def attach_errors(self, exc: ValidationError) -> None:
        """Show a service's ``ValidationError`` on the inputs it names (else on the form)."""
        by_setting = {f.name: self.field_name(f) for f in self.provider_class.config_fields}
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self.add_error(None, message)
            return
        for name, messages in exc.message_dict.items():
            target = by_setting.get(name) or (name if name in self.fields else None)
            if target is not None and target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)


class WindowLookupForm(forms.Form):
    """"Is this contact's window open?": a phone number, checked with the API's rule for ``to``
    (``normalize_phone``); a missing leading ``+`` is added, as people often leave it out."""

    contact = forms.CharField(
        label=gettext_lazy("Phone number"), max_length=32,
        help_text=gettext_lazy("With the country code, like +5511987654321."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}),
    )

    def clean_contact(self) -> str:
        value = self.cleaned_data["contact"].strip().replace(" ", "")
        try:
            return normalize_phone(value if value.startswith("+") else f"+{value}")
        except ValueError:
            raise ValidationError(_("This is not a valid phone number. Write it with the country code, "
                                    "like +5511987654321.")) from None
