"""The provider-neutral business-messaging value objects: rendering, limits, fallbacks."""

import pytest

from providers.content import (
    InteractiveMessage,
    ListRow,
    ListSection,
    ReplyButton,
    TemplateMessage,
    TemplateStatus,
    placeholders,
    render,
)


def test_placeholders_in_order_of_first_use_and_rendering():
    text = "Hi {{1}}, order {{ 2 }} for {{name}}; again {{1}}."
    assert placeholders(text) == ("1", "2", "name")
    assert render(text, {"1": "Ana", "2": "A-1", "name": "Bo"}) == "Hi Ana, order A-1 for Bo; again Ana."
    with pytest.raises(ValueError, match="2, name"):
        render(text, {"1": "Ana"})


def test_template_problems_and_rendered_text():
    template = TemplateMessage(name="order_update", language="pt_BR", text="Olá {{1}}", variables={"1": "Ana"})
    assert template.problems() == [] and template.rendered_text() == "Olá Ana"
    assert len(TemplateMessage(name="", language="", variables={"1": "x" * 1025}).problems()) == 3


@pytest.mark.parametrize("given,expected", [
    ("APPROVED", TemplateStatus.APPROVED), ("approved", TemplateStatus.APPROVED), ("IN_APPEAL", TemplateStatus.PENDING),
    ("received", TemplateStatus.PENDING), ("PAUSED", TemplateStatus.PAUSED), ("DISABLED", TemplateStatus.DISABLED),
    ("REJECTED", TemplateStatus.REJECTED), ("", TemplateStatus.UNSUBMITTED), ("LIMIT_EXCEEDED", TemplateStatus.UNKNOWN),
])
def test_template_status_from_provider_words(given, expected):
    assert TemplateStatus.from_provider(given) == expected


def test_reply_buttons_limits():
    ok = InteractiveMessage(body="Confirm?", buttons=(ReplyButton("yes", "Yes"), ReplyButton("no", "No")))
    assert ok.problems() == [] and ok.kind == "buttons"
    four = InteractiveMessage(body="x", buttons=tuple(ReplyButton(str(i), "t") for i in range(4)))
    assert any("At most 3" in p for p in four.problems())
    long_title = InteractiveMessage(body="x", buttons=(ReplyButton("a", "x" * 21),))
    assert any("Button titles" in p for p in long_title.problems())
    duplicate = InteractiveMessage(body="x", buttons=(ReplyButton("a", "One"), ReplyButton("a", "Two")))
    assert any("unique" in p for p in duplicate.problems())
    both = InteractiveMessage(body="x", buttons=(ReplyButton("a", "A"),), sections=(ListSection("s", (ListRow("b", "B"),)),),
                              button_text="Go")
    assert any("not both" in p for p in both.problems())


def test_list_limits():
    rows = tuple(ListRow(f"r{i}", f"Row {i}") for i in range(11))
    too_many = InteractiveMessage(body="Pick", button_text="Open", sections=(ListSection("All", rows),))
    assert any("1-10 rows" in p for p in too_many.problems())
    no_button = InteractiveMessage(body="Pick", sections=(ListSection("", rows[:2]),))
    assert any("button text" in p for p in no_button.problems())
    two_untitled = InteractiveMessage(body="Pick", button_text="Open",
                                      sections=(ListSection("", rows[:1]), ListSection("B", rows[1:2])))
    assert any("Section titles" in p for p in two_untitled.problems())
    long_row = InteractiveMessage(body="Pick", button_text="Open",
                                  sections=(ListSection("A", (ListRow("x", "y" * 25, "d" * 73),)),))
    assert len([p for p in long_row.problems() if "Row" in p]) == 2


def test_numbered_text_fallback():
    message = InteractiveMessage(header="Delivery", body="Pick a slot", button_text="Slots", footer="Reply with a number",
                                 sections=(ListSection("Fri", (ListRow("am", "Morning", "8-12"), ListRow("pm", "Afternoon"))),))
    assert message.as_text() == "Delivery\nPick a slot\n\n1. Morning - 8-12\n2. Afternoon\n\nReply with a number"
    buttons = InteractiveMessage(body="Confirm?", buttons=(ReplyButton("y", "Yes"), ReplyButton("n", "No")))
    assert buttons.as_text() == "Confirm?\n\n1. Yes\n2. No"
