"""One real run in headless Chromium: ask a scripted question, see the cited answer."""

from __future__ import annotations

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
