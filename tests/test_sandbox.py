"""The Telegram sandbox, exercised through the real PTB Bot and Application."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.sandbox import BotMessage, Fault, SandboxRequest, SandboxTelegram, SandboxUser
from bot.sandbox.schema import ApiSchema

BASE_URL = "https://sandbox.invalid/bot"
BASE_FILE_URL = "https://sandbox.invalid/file/bot"
App = Application[Any, Any, Any, Any, Any, Any]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def png_bytes(width: int, height: int) -> bytes:
    """Just the PNG signature and IHDR chunk: enough for the sandbox to read the size."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"rest"


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"pick:{label.lower()}")] for label in labels]
    )



async def until(condition: Callable[[], bool], turns: int = 100_000) -> None:
    """Let the event loop run (no clock involved) until `condition` holds."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")

@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxTelegram:
    return SandboxTelegram(clock=clock)


@pytest.fixture
def pat(sandbox: SandboxTelegram) -> SandboxUser:
    return sandbox.user("Pat", username="pat_p")


@pytest_asyncio.fixture
async def bot(sandbox: SandboxTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        sandbox.token,
        request=sandbox.request(),
        get_updates_request=sandbox.request(),
        base_url=BASE_URL,
        base_file_url=BASE_FILE_URL,
    ) as the_bot:
        yield the_bot


def build_app(sandbox: SandboxTelegram) -> App:
    return (
        ApplicationBuilder()
        .token(sandbox.token)
        .request(sandbox.request())
        .get_updates_request(sandbox.request())
        .base_url(BASE_URL)
        .base_file_url(BASE_FILE_URL)
        .build()
    )


@pytest_asyncio.fixture
async def app(sandbox: SandboxTelegram) -> AsyncIterator[App]:
    application = build_app(sandbox)
    async with application:
        yield application


# -- basics ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_and_recording(sandbox: SandboxTelegram, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.username == "aftercare_sandbox_bot"
    assert me.is_bot
    assert me.id == 123456
    # Bot.initialize already called getMe once.
    calls = sandbox.calls("getMe")
    assert len(calls) == 2
    assert calls[-1].status == 200
    assert calls[-1].ok
    assert calls[-1].time == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert sandbox.violations == []


@pytest.mark.asyncio
async def test_send_message_then_inspect(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser, clock: FakeClock
) -> None:
    first = await bot.send_message(pat.id, "<b>Hello</b> &amp; welcome", parse_mode="HTML")
    clock.now += timedelta(minutes=5)
    second = await bot.send_message(pat.id, "Second", reply_markup=keyboard("Yes", "No"))

    assert first.text == "Hello & welcome"
    assert first.entities == (MessageEntity(MessageEntity.BOLD, 0, 5),)
    assert first.chat.type == "private"
    assert first.chat.first_name == "Pat"
    assert first.from_user is not None
    assert first.from_user.id == bot.id
    assert first.date == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert second.message_id == first.message_id + 1
    assert second.reply_markup == keyboard("Yes", "No")

    sent = sandbox.sent(pat.id)
    assert [m.text for m in sent] == ["Hello & welcome", "Second"]
    assert sent[0].parse_mode == "HTML"
    last = sandbox.last(pat.id)
    assert isinstance(last, BotMessage)
    assert last.labels == ["Yes", "No"]
    assert last.buttons == [[("Yes", "pick:yes")], [("No", "pick:no")]]
    assert last.date == datetime(2026, 3, 2, 9, 35, tzinfo=UTC)
    assert last.edits == 0
    assert pat.last() == last


@pytest.mark.asyncio
async def test_unknown_chat_and_blocked_user(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "hello?")

    update = pat.block()
    parsed = Update.de_json(update, bot)
    assert parsed.my_chat_member is not None
    assert parsed.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(pat.id, "still there?")

    pat.unblock()
    await bot.send_message(pat.id, "welcome back")
    assert sandbox.last(pat.id).text == "welcome back"


@pytest.mark.asyncio
async def test_sending_to_a_bot_user_is_forbidden(sandbox: SandboxTelegram, bot: Bot) -> None:
    other_bot = sandbox.user("Robo", is_bot=True)

    with pytest.raises(Forbidden, match="bots"):
        await bot.send_message(other_bot.id, "hi")


@pytest.mark.asyncio
async def test_group_chat(sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser) -> None:
    group_id = sandbox.group("Clinic staff")
    update = Update.de_json(pat.say("hello all", chat_id=group_id), bot)

    assert group_id < 0
    assert update.effective_chat is not None
    assert update.effective_chat.type == "group"
    assert update.effective_chat.title == "Clinic staff"
    await bot.send_message(group_id, "hi group")
    assert sandbox.last(group_id).text == "hi group"


@pytest.mark.asyncio
async def test_wrong_token_is_unauthorized(sandbox: SandboxTelegram) -> None:
    intruder = Bot("999:WRONG", request=sandbox.request(), get_updates_request=sandbox.request())

    with pytest.raises(InvalidToken):
        await intruder.get_me()


@pytest.mark.asyncio
async def test_request_lifecycle(sandbox: SandboxTelegram) -> None:
    request = sandbox.request()

    assert isinstance(request, SandboxRequest)
    async with request:
        assert request.initialized
    assert not request.initialized
    assert request.read_timeout == 5.0


# -- the user side -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_inline_keyboard_round_trip(
    sandbox: SandboxTelegram, app: App, pat: SandboxUser
) -> None:
    received: list[str] = []

    async def on_pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        assert query.data is not None
        received.append(query.data)
        await query.answer("Noted")
        await query.edit_message_text(f"You picked {query.data}")

    app.add_handler(CallbackQueryHandler(on_pick, pattern=r"^pick:"))
    sent = await app.bot.send_message(pat.id, "Pain today?", reply_markup=keyboard("Yes", "No"))

    update = pat.press_button("ye")
    await app.process_update(Update.de_json(update, app.bot))

    assert received == ["pick:yes"]
    assert update["callback_query"]["message"]["message_id"] == sent.message_id
    assert sandbox.callback_answers == [
        {"callback_query_id": update["callback_query"]["id"], "text": "Noted"}
    ]
    edited = sandbox.last(pat.id)
    assert edited.text == "You picked pick:yes"
    assert edited.edits == 1
    assert edited.buttons == []  # editing without reply_markup drops the keyboard
    assert sandbox.violations == []


@pytest.mark.asyncio
async def test_press_button_reports_available_labels(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    await bot.send_message(pat.id, "Choose", reply_markup=keyboard("Morning", "Evening"))

    with pytest.raises(AssertionError, match=r"\['Morning', 'Evening'\]"):
        pat.press_button("night")


@pytest.mark.asyncio
async def test_press_button_targets_given_message_and_exact_label(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    old = await bot.send_message(pat.id, "Old", reply_markup=keyboard("Skip", "Skip all"))
    await bot.send_message(pat.id, "New", reply_markup=keyboard("Other"))

    update = pat.press_button("SKIP", message_id=old.message_id)

    assert update["callback_query"]["data"] == "pick:skip"
    assert update["callback_query"]["message"]["text"] == "Old"
    with pytest.raises(AssertionError, match="several buttons"):
        pat.press_button("sk", message_id=old.message_id)


@pytest.mark.asyncio
async def test_callback_query_can_be_answered_once_and_only_in_time(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser, clock: FakeClock
) -> None:
    await bot.send_message(pat.id, "Choose", reply_markup=keyboard("A"))
    first = pat.press_button("a")["callback_query"]["id"]
    await bot.answer_callback_query(first)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(first)

    late = pat.press_button("a")["callback_query"]["id"]
    clock.now += timedelta(seconds=16)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(late)


@pytest.mark.asyncio
async def test_command_entity_and_manual_feeding(
    sandbox: SandboxTelegram, app: App, pat: SandboxUser
) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "Welcome!")

    app.add_handler(CommandHandler("start", start))
    sandbox.auto_queue = False

    update = pat.say("/start promo42")

    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sandbox.pending_updates() == []
    await app.process_update(Update.de_json(update, app.bot))
    assert seen == [["promo42"]]
    assert sandbox.last(pat.id).text == "Welcome!"


def test_user_actions_produce_schema_valid_updates(sandbox: SandboxTelegram) -> None:
    pat = sandbox.user("Pat", username="pat_p")
    actions = [
        pat.say("/start"),
        pat.say("plain words"),
        pat.send_photo(caption="day 3"),
        pat.send_document(b"%PDF", "scan.pdf", "application/pdf"),
        pat.send_sticker(),
        pat.send_location(48.85, 2.35),
        pat.send_contact("+33100000000"),
        pat.send_voice(),
        pat.edit(2, "plain words, edited"),
        pat.block(),
        pat.unblock(),
    ]
    schema = ApiSchema.load()

    for update in actions:
        assert schema.validate_object("Update", update) == [], update
        assert Update.de_json(update, None).update_id == update["update_id"]
    assert [u["update_id"] for u in sandbox.pending_updates()] == list(range(1, 12))
    assert sandbox.next_update_id == 12


@pytest.mark.asyncio
async def test_bot_responses_are_schema_valid(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    await bot.send_message(pat.id, "<i>hi</i>", parse_mode="HTML", reply_markup=keyboard("A"))
    await bot.send_photo(pat.id, png_bytes(10, 10), caption="c")
    await bot.send_document(pat.id, b"doc", filename="d.txt")
    schema = ApiSchema.load()

    for record in sandbox.requests:
        assert record.response is not None
        result = record.response["result"]
        expected = "User" if record.method == "getMe" else "Message"
        assert schema.validate_object(expected, result) == [], record.method


# -- getUpdates --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_updates_returns_and_confirms(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    pat.say("/start")
    pat.say("hello")

    updates = await bot.get_updates(timeout=0)

    assert [u.message.text for u in updates if u.message] == ["/start", "hello"]
    assert updates[0].message is not None
    assert updates[0].message.entities[0].type == MessageEntity.BOT_COMMAND
    assert len(sandbox.pending_updates()) == 2  # not confirmed yet
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert sandbox.pending_updates() == []


@pytest.mark.asyncio
async def test_get_updates_limit_and_negative_offset(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    for word in ("one", "two", "three"):
        pat.say(word)

    limited = await bot.get_updates(limit=2, timeout=0)
    newest = await bot.get_updates(offset=-1, timeout=0)

    assert [u.message.text for u in limited if u.message] == ["one", "two"]
    assert [u.message.text for u in newest if u.message] == ["three"]


@pytest.mark.asyncio
async def test_get_updates_long_poll_wakes_on_new_update(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await until(lambda: bool(sandbox._pollers))  # the long poll is waiting
    pat.say("are you there?")
    updates = await poll

    assert len(updates) == 1
    assert time.monotonic() - started < 0.9


@pytest.mark.asyncio
async def test_get_updates_long_poll_is_capped(sandbox: SandboxTelegram, bot: Bot) -> None:
    started = time.monotonic()
    updates = await bot.get_updates(timeout=1)

    assert updates == ()
    assert time.monotonic() - started < 1.5


@pytest.mark.asyncio
async def test_get_updates_conflicts_with_webhook(sandbox: SandboxTelegram, bot: Bot) -> None:
    await bot.set_webhook("https://example.invalid/hook")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/hook"

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)

    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


@pytest.mark.asyncio
async def test_polling_application_end_to_end(sandbox: SandboxTelegram) -> None:
    pat = sandbox.user("Pat")
    application = build_app(sandbox)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Hi from polling")

    application.add_handler(CommandHandler("start", start))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        await application.start()
        pat.say("/start")
        await until(lambda: bool(sandbox.sent(pat.id)))
        await application.updater.stop()
        await application.stop()

    assert sandbox.last(pat.id).text == "Hi from polling"
    assert sandbox.violations == []
    assert sandbox.pending_updates() == []  # Updater confirmed what it processed


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "violation"),
    [
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "hi", api_kwargs={"colour": "red"}),
            "unknown parameter 'colour'",
            id="unknown-parameter",
        ),
        pytest.param(
            lambda bot, chat: bot.send_chat_action(chat, None),
            "parameter 'action' is required",
            id="missing-required",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(
                chat,
                "hi",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("x", callback_data="é" * 32 + "x")]]
                ),
            ),
            "callback_data must be 1-64 bytes, got 65",
            id="callback-data-65-bytes",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "x" * 4097),
            "message is too long (4097 characters, limit 4096)",
            id="text-4097",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "   "),
            "message text is empty",
            id="text-blank",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "<b>bold", parse_mode="HTML"),
            'Can\'t find end tag corresponding to start tag "b"',
            id="html-unclosed",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "1 < 2", parse_mode="HTML"),
            'Unescaped "<"',
            id="html-unescaped-lt",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "Q&A", parse_mode="HTML"),
            'Unescaped "&"',
            id="html-unescaped-amp",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "<div>x</div>", parse_mode="HTML"),
            'Unsupported start tag "div"',
            id="html-unsupported-tag",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "<b><i>x</b></i>", parse_mode="HTML"),
            "Unmatched end tag",
            id="html-misnested",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "hi", parse_mode="RichText"),
            "unsupported parse_mode 'RichText'",
            id="parse-mode",
        ),
        pytest.param(
            lambda bot, chat: bot.send_photo(chat, png_bytes(1, 1), caption="c" * 1025),
            "message caption is too long (1025 characters, limit 1024)",
            id="caption-1025",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(
                chat, "hi", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]])
            ),
            "Text buttons are unallowed in the inline keyboard",
            id="button-without-action",
        ),
        pytest.param(
            lambda bot, _chat: bot.set_my_commands([BotCommand("Start", "Begin")]),
            "BOT_COMMAND_INVALID",
            id="command-name",
        ),
        pytest.param(
            lambda bot, chat: bot.send_message(chat, "hi", api_kwargs={"protect_content": "yes"}),
            "protect_content: expected Boolean, got String",
            id="type-mismatch",
        ),
    ],
)
@pytest.mark.asyncio
async def test_violations_are_bad_requests(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser, call: Any, violation: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await call(bot, pat.id)

    assert violation.lower() in caught.value.message.lower()
    assert len(sandbox.violations) == 1
    assert violation in sandbox.violations[0]
    assert sandbox.requests[-1].status == 400
    assert sandbox.sent() == []


@pytest.mark.asyncio
async def test_valid_html_and_limits_pass(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    html = (
        '<b>b</b> <strong>s</strong> <i>i</i> <u>u</u> <s>s</s> <span class="tg-spoiler">x</span>'
        ' <tg-spoiler>y</tg-spoiler> <a href="https://example.org/?a=1&amp;b=2">link</a>'
        ' <code>c</code> <pre><code class="language-python">p</code></pre>'
        " <blockquote expandable>q</blockquote> &lt;&gt;&amp;&quot;&#128512;&#x1F600;"
    )
    message = await bot.send_message(pat.id, html, parse_mode="HTML")
    await bot.send_message(pat.id, "x" * 4096)
    await bot.send_message(pat.id, "<b>" + "x" * 4096 + "</b>", parse_mode="html")
    await bot.send_message(
        pat.id,
        "ok",
        reply_markup=keyboard("é" * 29),  # "pick:" + 58 bytes = 63 bytes
    )

    assert message.text is not None
    assert message.text.endswith('<>&"😀😀')
    kinds = {entity.type for entity in message.entities}
    assert {"bold", "italic", "spoiler", "text_link", "code", "pre"} <= kinds
    assert sandbox.violations == []


@pytest.mark.asyncio
async def test_unknown_and_unsupported_methods(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    with pytest.raises(BadRequest, match="method not supported"):
        await bot.send_dice(pat.id)

    assert sandbox.violations == ["frobnicate: unknown method"]
    assert [r.method for r in sandbox.requests[-2:]] == ["frobnicate", "sendDice"]
    assert sandbox.requests[-1].status == 400


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        pytest.param(Fault.blocked(), Forbidden, "bot was blocked by the user", id="blocked"),
        pytest.param(Fault.chat_not_found(), BadRequest, "(?i)chat not found", id="not-found"),
        pytest.param(Fault.server_error(), NetworkError, "Bad Gateway", id="502"),
        pytest.param(Fault.timeout(), TimedOut, "injected timeout", id="timeout"),
    ],
)
@pytest.mark.asyncio
async def test_injected_faults(
    sandbox: SandboxTelegram,
    bot: Bot,
    pat: SandboxUser,
    *,
    fault: Fault,
    error: type[Exception],
    match: str,
) -> None:
    sandbox.inject("sendMessage", fault)

    with pytest.raises(error, match=match) as caught:
        await bot.send_message(pat.id, "first try")
    assert type(caught.value) is error  # BadRequest/TimedOut subclass NetworkError
    assert sandbox.sent() == []
    record = sandbox.requests[-1]
    assert record.fault == fault
    assert not record.ok
    if error is TimedOut:
        assert record.status is None
        assert record.response is None
    else:
        assert record.response is not None
        assert record.status == record.response["error_code"]

    await bot.send_message(pat.id, "second try")  # a fault fires `times` times only
    assert sandbox.last(pat.id).text == "second try"


@pytest.mark.asyncio
async def test_retry_after_fault(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PTB_TIMEDELTA, PTB 22 emits a deprecation warning when building RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    sandbox.inject("sendMessage", Fault.retry_after(7), times=2)

    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(pat.id, "flood")
        assert caught.value.retry_after == timedelta(seconds=7)
    assert sandbox.requests[-1].status == 429
    assert sandbox.requests[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(pat.id, "calm")


@pytest.mark.asyncio
async def test_timeout_after_delivery_still_delivers(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    sandbox.inject("sendMessage", Fault.timeout_after_delivery())

    with pytest.raises(TimedOut):
        await bot.send_message(pat.id, "did it arrive?")

    assert sandbox.last(pat.id).text == "did it arrive?"
    record = sandbox.requests[-1]
    assert record.status == 200
    assert record.timed_out
    assert not record.ok


@pytest.mark.asyncio
async def test_fault_scoped_to_chat_and_wildcard(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    sam = sandbox.user("Sam")
    sandbox.inject("*", Fault.blocked(), chat_id=sam.id)

    await bot.send_message(pat.id, "pat is fine")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(sam.id, "typing")
    await bot.send_message(sam.id, "sam is fine again")

    assert [m.text for m in sandbox.sent()] == ["pat is fine", "sam is fine again"]


@pytest.mark.asyncio
async def test_invalid_request_does_not_consume_fault(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    sandbox.inject("sendMessage", Fault.server_error())

    with pytest.raises(BadRequest):
        await bot.send_message(pat.id, "x" * 5000)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(pat.id, "ok")


# -- files -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_photo_upload_and_resend_by_file_id(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    image = png_bytes(640, 480)

    sent = await bot.send_photo(pat.id, image, caption="<i>day 1</i>", parse_mode="HTML")
    again = await bot.send_photo(pat.id, sent.photo[-1].file_id)

    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
    assert sent.caption == "day 1"
    assert sandbox.sent(pat.id)[0].photo == image
    assert sandbox.sent(pat.id)[0].text == "day 1"
    assert sandbox.last(pat.id).photo == image
    assert again.photo[-1].width == 640
    upload = sandbox.calls("sendPhoto")[0].files["photo"]
    assert upload.data == image
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(pat.id, "no-such-file-id")


@pytest.mark.asyncio
async def test_document_upload(sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser) -> None:
    message = await bot.send_document(pat.id, b"%PDF-1.7 plan", filename="plan.pdf")

    assert message.document is not None
    assert message.document.file_name == "plan.pdf"
    assert message.document.mime_type == "application/pdf"
    last = sandbox.last(pat.id)
    assert last.document == b"%PDF-1.7 plan"
    assert last.file_name == "plan.pdf"


@pytest.mark.asyncio
async def test_user_photo_download(sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser) -> None:
    update = Update.de_json(pat.send_photo(b"jpeg bytes of a cheek", caption="day 3"), bot)
    assert update.message is not None
    biggest = update.message.photo[-1]
    assert (biggest.width, biggest.height) == (1280, 960)
    assert update.message.photo[0].width == 90

    file = await biggest.get_file()
    data = await file.download_as_bytearray()

    assert bytes(data) == b"jpeg bytes of a cheek"
    assert file.file_path is not None
    assert file.file_path.startswith(f"{BASE_FILE_URL}{sandbox.token}/photos/")
    assert sandbox.requests[-1].method == "download"
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


# -- editing and deleting ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_edit_not_modified_and_not_found(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    sent = await bot.send_message(pat.id, "Hi", reply_markup=keyboard("A"))

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Hi", chat_id=pat.id, message_id=sent.message_id, reply_markup=keyboard("A")
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Hi", chat_id=pat.id, message_id=999)

    edited = await bot.edit_message_reply_markup(
        chat_id=pat.id, message_id=sent.message_id, reply_markup=keyboard("B")
    )
    assert isinstance(edited, type(sent))
    assert sandbox.last(pat.id).labels == ["B"]
    assert sandbox.last(pat.id).edits == 1
    assert sandbox.violations == []


@pytest.mark.asyncio
async def test_edit_caption_and_text_kinds(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    photo = await bot.send_photo(pat.id, png_bytes(5, 5), caption="before")
    text = await bot.send_message(pat.id, "words")

    await bot.edit_message_caption(chat_id=pat.id, message_id=photo.message_id, caption="after")
    with pytest.raises(BadRequest, match=r"(?i)no text in the message"):
        await bot.edit_message_text("x", chat_id=pat.id, message_id=photo.message_id)
    with pytest.raises(BadRequest, match=r"(?i)no caption"):
        await bot.edit_message_caption(chat_id=pat.id, message_id=text.message_id, caption="x")

    assert sandbox.sent(pat.id)[0].text == "after"


@pytest.mark.asyncio
async def test_delete_message(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser, clock: FakeClock
) -> None:
    first = await bot.send_message(pat.id, "temporary")
    second = await bot.send_message(pat.id, "old")

    assert await bot.delete_message(pat.id, first.message_id)
    assert [m.text for m in sandbox.sent(pat.id)] == ["old"]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(pat.id, first.message_id)
    clock.now += timedelta(hours=49)
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted"):
        await bot.delete_message(pat.id, second.message_id)


@pytest.mark.asyncio
async def test_user_edit_produces_edited_message(bot: Bot, pat: SandboxUser) -> None:
    said = pat.say("my pian is 3")
    edited = Update.de_json(pat.edit(said["message"]["message_id"], "my pain is 3"), bot)

    assert edited.edited_message is not None
    assert edited.edited_message.text == "my pain is 3"
    assert edited.edited_message.edit_date is not None


# -- misc methods ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_commands_chat_action_and_get_chat(
    sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser
) -> None:
    commands = [BotCommand("start", "Begin"), BotCommand("help", "Get help")]

    assert await bot.set_my_commands(commands)
    assert await bot.get_my_commands() == tuple(commands)
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(pat.id, "typing")
    chat = await bot.get_chat(pat.id)
    assert chat.first_name == "Pat"
    assert chat.username == "pat_p"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(1)
    assert sandbox.violations == []


@pytest.mark.asyncio
async def test_reply_parameters(sandbox: SandboxTelegram, bot: Bot, pat: SandboxUser) -> None:
    said = pat.say("question?")

    reply = await bot.send_message(
        pat.id, "answer", reply_to_message_id=said["message"]["message_id"]
    )

    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "question?"
    with pytest.raises(BadRequest, match=r"(?i)replied not found"):
        await bot.send_message(pat.id, "answer", reply_to_message_id=999)


@pytest.mark.asyncio
async def test_newer_get_updates_terminates_older_long_poll(
    sandbox: SandboxTelegram, bot: Bot
) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=30))
    await until(lambda: bool(sandbox._pollers))  # the older poll is waiting

    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


@pytest.mark.asyncio
async def test_jpeg_dimensions_are_read(bot: Bot, pat: SandboxUser) -> None:
    # SOI, then a baseline SOF0 segment: length 17, precision 8, height 300, width 400.
    jpeg = b"\xff\xd8\xff\xc0\x00\x11\x08" + struct.pack(">HH", 300, 400) + bytes(12) + b"\xff\xd9"

    message = await bot.send_photo(pat.id, jpeg)

    assert (message.photo[-1].width, message.photo[-1].height) == (400, 300)


def test_user_and_fault_guards(sandbox: SandboxTelegram) -> None:
    pat = sandbox.user("Pat", user_id=42)
    pat.block()

    with pytest.raises(AssertionError, match="has blocked the bot"):
        pat.say("hello?")
    with pytest.raises(ValueError, match="already exists"):
        sandbox.user("Pat again", user_id=42)
    with pytest.raises(ValueError, match="at least 1 second"):
        Fault.retry_after(0)
    with pytest.raises(ValueError, match="at least 1"):
        sandbox.inject("sendMessage", Fault.blocked(), times=0)


def test_schema_validate_directly() -> None:
    schema = ApiSchema.load()

    assert schema.validate("sendMessage", {"chat_id": 1, "text": "hi"}) == []
    assert schema.validate("sendmessage", {"chat_id": "@channel", "text": "hi"}) == []
    assert schema.validate("noSuchMethod", {}) == ["unknown method 'noSuchMethod'"]
    assert schema.validate("setMyCommands", {"commands": [], "scope": {"type": "chat"}}) == [
        "scope: field 'chat_id' is required"
    ]
    assert schema.validate(
        "sendMessage",
        {"chat_id": 1, "text": "hi", "reply_markup": {"inline_keyboard": [[{"text": 1}]]}},
    ) == ["reply_markup.inline_keyboard[0][0].text: expected String, got Integer"]
    assert schema.validate(
        "answerCallbackQuery", {"callback_query_id": "1", "text": "x" * 201}
    ) == ["text: text is too long (201 characters, limit 200)"]
