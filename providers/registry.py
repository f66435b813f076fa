"""The registry of provider classes.

Built from ``settings.SWITCHBOARD_PROVIDERS`` (dotted paths) plus every entry point in the
group ``switchboard.providers``. A class is checked against the interface when it is
registered; a class that misses an operation is refused with a message naming it. A plugin
that fails to import is logged and skipped so the others still load.

Simulated providers (the sandbox) are loaded only where the operator enables them
(``settings.SWITCHBOARD_SANDBOX``, on with ``DEBUG``): in production a tenant cannot pick a
provider that sends nothing and sleeps on a worker.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from django.utils.module_loading import import_string

from providers import features
from providers.base import Provider, VoipProvider, WhatsAppProvider
from providers.pricing import PriceModel
from providers.values import Channel

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "switchboard.providers"

# The step each optional feature needs; declaring the feature without the step is refused.
FEATURE_STEPS = {
    features.TEMPLATE_IMPORT: "fetch_templates",
    features.MEDIA_DOWNLOAD: "fetch_media",
    features.HANGUP: "end_call",
    features.CALL_LOOKUP: "lookup_call",
}


def missing_operations(cls: type[Provider]) -> list[str]:
    """Operations a concrete provider class still leaves to the base (which only raises):
    the required ones, and the step of every optional feature it declares."""
    missing = []
    declared = [step for feature, step in FEATURE_STEPS.items() if feature in cls.features]
    for operation in (*cls.required_operations, *declared):
        implementation = getattr(cls, operation, None)
        # The bases' own placeholders, wherever they are defined (mixins included).
        base_implementations = {
            getattr(base, operation)
            for base in (Provider, WhatsAppProvider, VoipProvider)
            if hasattr(base, operation)
        }
        if implementation is None or implementation in base_implementations:
            missing.append(operation)
    return missing


def check_attributes(cls: type[Provider]) -> list[str]:
    problems = []
    for attribute in ("name", "channel", "display_name", "pricing"):
        if not getattr(cls, attribute, None):
            problems.append(f"missing class attribute '{attribute}'")
    if getattr(cls, "channel", None) not in set(Channel):
        problems.append(f"unknown channel {getattr(cls, 'channel', None)!r}")
    if not isinstance(getattr(cls, "pricing", None), PriceModel):
        problems.append("'pricing' must be a providers.pricing.PriceModel")
    return problems


class ProviderRegistrationError(TypeError):
    """A class that does not satisfy the provider interface."""


class UnknownProvider(LookupError):
    pass


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, type[Provider]] = {}
        self._lock = threading.Lock()

    def register(self, provider_class: type[Provider], *, replace: bool = False) -> type[Provider]:
        if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
            raise ProviderRegistrationError(f"{provider_class!r} is not a Provider subclass.")
        problems = check_attributes(provider_class)
        missing = missing_operations(provider_class)
        if missing:
            problems.append("does not implement " + ", ".join(f"{op}()" for op in missing))
        if problems:
            raise ProviderRegistrationError(
                f"Provider class {provider_class.__module__}.{provider_class.__qualname__} "
                f"cannot be registered: {'; '.join(problems)}."
            )
        with self._lock:
            existing = self._providers.get(provider_class.name)
            if existing is not None and existing is not provider_class and not replace:
                raise ProviderRegistrationError(
                    f"A provider named '{provider_class.name}' is already registered "
                    f"({existing.__module__}.{existing.__qualname__})."
                )
            self._providers[provider_class.name] = provider_class
        return provider_class

    def unregister(self, name: str) -> None:
        with self._lock:
            self._providers.pop(name, None)

    def get(self, name: str) -> type[Provider]:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProvider(f"No provider named '{name}' is registered.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def all(self, channel: str | Channel | None = None) -> list[type[Provider]]:
        classes = sorted(self._providers.values(), key=lambda cls: (cls.channel, cls.name))
        if channel is not None:
            classes = [cls for cls in classes if cls.channel == channel]
        return classes

    def choices(self, channel: str | Channel | None = None) -> list[tuple[str, str]]:
        return [(cls.name, cls.display_name) for cls in self.all(channel)]

    def load(
        self,
        dotted_paths: list[str] | tuple[str, ...],
        *,
        group: str = ENTRY_POINT_GROUP,
        allow_simulated: bool = False,
    ) -> None:
        """Register the built-ins, then every plugin found in the entry-point group; simulated
        providers only with ``allow_simulated``."""
        for path in dotted_paths:
            provider_class = import_string(path)
            if getattr(provider_class, "simulated", False) and not allow_simulated:
                logger.debug("Not registering %s: simulated providers are off (SWITCHBOARD_SANDBOX).", path)
                continue
            self.register(provider_class)
        for entry_point in entry_points(group=group):
            try:
                provider_class = entry_point.load()
                if getattr(provider_class, "simulated", False) and not allow_simulated:
                    logger.info("Not registering plugin %r: simulated providers are off.", entry_point.name)
                    continue
                self.register(provider_class)
            except Exception:
                logger.exception(
                    "Skipping provider plugin %r (%s): it could not be loaded.",
                    entry_point.name,
                    entry_point.value,
                )


_registry: ProviderRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> ProviderRegistry:
    """The process-wide registry, built on first use from settings and entry points."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                from django.conf import settings

                registry = ProviderRegistry()
                registry.load(
                    settings.SWITCHBOARD_PROVIDERS,
                    allow_simulated=bool(getattr(settings, "SWITCHBOARD_SANDBOX", False)),
                )
                _registry = registry
    return _registry


def reset_registry() -> None:
    """Forget the registry so the next ``get_registry()`` rebuilds it (tests, settings changes)."""
    global _registry
    with _registry_lock:
        _registry = None


def get_provider_class(name: str) -> type[Provider]:
    return get_registry().get(name)
