import sse_service


def test_the_public_surface_is_pinned() -> None:
    assert sorted(sse_service.__all__) == [
        "ConfigError",
        "EventId",
        "Notification",
        "ServerSentEvent",
        "Settings",
        "StoredEvent",
        "create_app",
        "load_settings",
    ]
    for name in sse_service.__all__:
        assert getattr(sse_service, name) is not None


def test_building_the_app_starts_nothing() -> None:
    app = sse_service.create_app(sse_service.load_settings(env={}, overrides={"jwt_secret": "s" * 32}))
    services = app.extensions["flagstream"]
    assert services.hub.connection_count == 0 and not services._started
