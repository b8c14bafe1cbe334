"""MaxConcurrency is a window: a 10,000-item Map with MaxConcurrency 10 never has more than
10 iterations in flight, proven from the execution history (every prefix of the history has
at most 10 MapIterationStarted without their MapIterationSucceeded/Failed)."""

from __future__ import annotations

from runtime.embedded import EmbeddedRuntime

ITEMS = 10_000
WINDOW = 10


async def test_ten_thousand_items_never_more_than_ten_in_flight() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": WINDOW,
                "ItemSelector": {"i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            }
        },
    }
    async with EmbeddedRuntime() as rt:
        arn = await rt.create_state_machine("window", definition)
        result = await rt.run(arn, list(range(ITEMS)), timeout=600)
        assert result.status == "SUCCEEDED" and result.output == {"count": ITEMS}
        async with rt.store.transaction() as tx:
            events, token = [], None
            while True:
                page = await tx.list_events(result.arn, max_results=1000, next_token=token)
                events.extend(page.items)
                token = page.next_token
                if token is None:
                    break
    in_flight = peak = started = 0
    for event in events:
        if event.type == "MapIterationStarted":
            in_flight += 1
            started += 1
        elif event.type in ("MapIterationSucceeded", "MapIterationFailed"):
            in_flight -= 1
        peak = max(peak, in_flight)
    assert started == ITEMS
    assert peak == WINDOW  # the window is used in full, and never exceeded
