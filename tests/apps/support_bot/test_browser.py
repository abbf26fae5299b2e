"""One real run in headless Chromium: ask a scripted question, see the cited answer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "apps" / "support_bot" / "dashboard.py"


@pytest.mark.browser
def test_chat_in_a_real_browser(bot_home: Path, streamlit_server, browser, wait_for_text,
                                tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url = streamlit_server(SCRIPT, {"VERTICALS_HOME": str(bot_home)})
    browser.get(url)
    assert wait_for_text(browser, "Support bot", 120)
    box = None
    for _ in range(240):
        boxes = browser.find_elements(By.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']")
        if boxes:
            box = boxes[0]
            break
        browser.implicitly_wait(0.5)
    assert box is not None, "chat input never appeared"
    box.send_keys("How long are gift cards valid?")
    box.send_keys(Keys.ENTER)
    found = wait_for_text(browser, "3 years", 120)
    browser.save_screenshot(str(tmp_path / "support_chat.png"))
    assert found, "the cited answer did not appear"
    assert "[1]" in browser.find_element(By.TAG_NAME, "body").text
    assert (tmp_path / "support_chat.png").stat().st_size > 0


@pytest.mark.browser
def test_agent_reply_reaches_an_open_chat_by_itself(bot_home: Path, streamlit_server, browser,
                                                     wait_for_text, tmp_path: Path) -> None:
    """The customer does nothing after the hand-off: the reply, sent from another process,
    appears in their chat (the handed-off chat polls), and the thumbs are icons, not emoji."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from apps.support_bot.service import SupportService

    browser.get(streamlit_server(SCRIPT, {"VERTICALS_HOME": str(bot_home)}))
    assert wait_for_text(browser, "Support bot", 120)
    box = _chat_box(browser, By)
    box.send_keys("How long are gift cards valid?", Keys.ENTER)
    assert wait_for_text(browser, "3 years", 120), "the cited answer did not appear"
    icons: list[str] = []
    for _ in range(60):  # subtle: the answer's text can paint before its feedback widget
        # ligature names: hidden text, drawn as icons; read in one script call (subtle: read
        # element by element, one went stale when Streamlit redrew the chat in between)
        icons = browser.execute_script("return Array.from(document.querySelectorAll("
                                       "\"[data-testid='stIconMaterial']\")).map(e => e.textContent)")
        if {"thumb_up", "thumb_down"} <= set(icons):
            break
        time.sleep(0.5)
    assert {"thumb_up", "thumb_down"} <= set(icons), icons
    _chat_box(browser, By).send_keys("who won the football match yesterday?", Keys.ENTER)
    assert wait_for_text(browser, "not sure", 120)

    service = SupportService()
    service.agents.reply(service.agents.handoffs()[0].id, "The final ended 2-1, but I only do orders.")
    found = wait_for_text(browser, "The final ended 2-1", 60)
    browser.save_screenshot(str(tmp_path / "support_agent_reply.png"))
    assert found, "the agent's reply did not reach the open chat"
    assert "?c=" in browser.current_url
    browser.refresh()  # the page's address brings the conversation back, the reply with it
    assert wait_for_text(browser, "The final ended 2-1", 120), "a reload lost the conversation"
    assert "who won the football match yesterday?" in browser.find_element(By.TAG_NAME, "body").text

    # an agent on the Hand-offs tab learns of a new ticket by itself, their tab kept
    [tab] = [t for t in browser.find_elements(By.XPATH, "//*[@role='tab']") if t.text.strip() == "Hand-offs"]
    tab.click()
    assert wait_for_text(browser, "Reply to the customer", 60)  # ticket #1: answered, not released
    service.ask("is it going to rain tomorrow?")
    found = wait_for_text(browser, "The queue has changed: #2 new.", 60)
    browser.save_screenshot(str(tmp_path / "support_queue_changed.png"))
    assert found, "the Hand-offs tab did not notice the new ticket"
    [show] = [b for b in browser.find_elements(By.TAG_NAME, "button") if b.text == "Show the queue as it is now"]
    show.click()
    assert wait_for_text(browser, "is it going to rain tomorrow?", 60)


def _chat_box(browser, by):
    for _ in range(240):
        boxes = browser.find_elements(by.CSS_SELECTOR, "textarea[data-testid='stChatInputTextArea']")
        if boxes:
            return boxes[0]
        browser.implicitly_wait(0.5)
    raise AssertionError("chat input never appeared")
