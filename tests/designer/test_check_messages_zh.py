"""Every BPMN check the designer shows is in Chinese on a Chinese page (engine/bpmn/check.py, normalize.py,
parser.py): refused constructs, event triggers, refs, loops, JUEL, a file that is not BPMN at all."""

from __future__ import annotations

import re

from tests.designer.test_editor import create, json_token, owner, signed_in  # noqa: F401

# An English sentence: two English words in a row once code (`...`, <...>) is left out (a comma-separated
# list of names, "echo, sum_values", is not a sentence).
_ENGLISH = re.compile(r"[A-Za-z]{2,}[;:]? +[A-Za-z]{2,}")
_CODE = re.compile(r"`[^`]*`|<[^>]*>")

# Into the blank template's process: constructs each check refuses or notes.
IN_PROCESS = (
    '<bpmn:complexGateway id="cx"/>'
    '<bpmn:intermediateThrowEvent id="comp"><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>'
    '<bpmn:endEvent id="late"><bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>'
    '</bpmn:timerEventDefinition></bpmn:endEvent>'
    '<bpmn:intermediateCatchEvent id="waitsig"><bpmn:signalEventDefinition signalRef="sig"/>'
    '</bpmn:intermediateCatchEvent>'
    '<bpmn:intermediateCatchEvent id="waitmsg"><bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>'
    '<bpmn:intermediateCatchEvent id="ghost" name="x"><bpmn:messageEventDefinition messageRef="nothing"/>'
    '</bpmn:intermediateCatchEvent>'
    '<bpmn:userTask id="many"><bpmn:multiInstanceLoopCharacteristics camunda:collection="1 +"/></bpmn:userTask>'
    '<bpmn:userTask id="each"><bpmn:multiInstanceLoopCharacteristics camunda:elementVariable="item">'
    '<bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>'
    '<bpmn:adHocSubProcess id="adhoc" ordering="Sequential"><bpmn:startEvent id="adhoc_start"/>'
    '</bpmn:adHocSubProcess>'
    '<bpmn:subProcess id="onsig" triggeredByEvent="true"><bpmn:startEvent id="onsig_start"/>'
    '<bpmn:endEvent id="onsig_end"/></bpmn:subProcess>'
    '<bpmn:boundaryEvent id="stop" attachedToRef="many"><bpmn:cancelEventDefinition/></bpmn:boundaryEvent>'
    '<bpmn:sequenceFlow id="juel" sourceRef="pick" targetRef="many"><bpmn:conditionExpression>${amount &gt; 5}'
    '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:exclusiveGateway id="pick"/>'
)
# Beside the process, in bpmn:definitions.
IN_DEFINITIONS = ('<bpmn:signal id="sig"/><bpmn:globalTask id="gt"/><bpmn:choreography id="chor"/>'
                  '<bpmn:collaboration id="talk"><bpmn:conversation id="conv"/></bpmn:collaboration>')


def _problems(client, key: str, change, lang: str = "zh") -> list[dict]:
    assert create(client, key).status_code == 302
    xml = change(client.get(f"/designer/{key}/draft").get_json()["xml"])
    saved = client.put(f"/designer/{key}/draft", json={"revision": 1, "xml": xml},
                       headers={"X-CSRFToken": json_token(client, key), "Accept-Language": lang})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    return saved.get_json()["problems"]


def _rare(xml: str) -> str:
    if "xmlns:camunda" not in xml:
        xml = xml.replace("<bpmn:definitions ", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ', 1)
    xml = xml.replace("</bpmn:process>", IN_PROCESS + "</bpmn:process>" + IN_DEFINITIONS)
    return xml


def _runs(xml: str) -> str:
    """A process that runs but is normalized (link events, an unquoted timer, a split without a gateway)
    and calls a process the package does not have."""
    start, end = re.search(r'<bpmn:sequenceFlow id="[^"]+" sourceRef="([^"]+)" targetRef="([^"]+)"', xml).group(1, 2)
    body = (f'<bpmn:sequenceFlow id="f1" sourceRef="{start}" targetRef="go"/>'
            '<bpmn:intermediateThrowEvent id="go"><bpmn:linkEventDefinition name="L"/></bpmn:intermediateThrowEvent>'
            '<bpmn:intermediateCatchEvent id="land"><bpmn:linkEventDefinition name="L"/></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="f2" sourceRef="land" targetRef="wait"/>'
            '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H'
            '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="call"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="wait" targetRef="call2"/>'
            '<bpmn:callActivity id="call" calledElement="elsewhere"/>'
            '<bpmn:callActivity id="call2" calledElement="elsewhere"/>'
            f'<bpmn:sequenceFlow id="f5" sourceRef="call" targetRef="{end}"/>'
            f'<bpmn:sequenceFlow id="f6" sourceRef="call2" targetRef="{end}"/>')
    return re.sub(r'<bpmn:sequenceFlow id="[^"]+" sourceRef="[^"]+" targetRef="[^"]+"\s*/>', body, xml, count=1)


def _by_element(problems: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem["element_id"], []).append(problem["message"])
    return found


def _no_english(problems: list[dict]) -> None:
    for problem in problems:
        text = _CODE.sub("", problem["message"])
        assert re.search(r"[\u4e00-\u9fff]", text) and not _ENGLISH.search(text), problem


RARE_ZH = {
    "cx": "引擎不支持复杂网关（complexGateway）：请改用包容网关或排他网关",
    "comp": "引擎不支持补偿事件",
    "late": "引擎不支持定时结束事件",
    "waitsig": "信号 `sig` 未命名：信号按名称送达其他流程实例，请为它填写名称",
    "waitmsg": "消息事件既没有 messageRef 也没有名称：它会等待一条未命名的消息",
    "ghost": "messageRef `nothing` 在本文件中找不到对应的消息",
    "each": "设置了 camunda:elementVariable，就需要 camunda:collection",
    "adhoc": "引擎不支持按顺序执行的临时子流程（adHocSubProcess）",
    "onsig_start": "事件子流程的开始事件需要消息、信号、定时或条件触发器",
    "stop": "取消边界事件只能附加在事务上",
    "juel": "JUEL 表达式 `${amount > 5}` 将按 Python `(amount > 5)` 运行",
    "gt": "引擎不支持全局任务：请改用调用活动来调用流程",
    "chor": "引擎不支持编排（choreography）",
    "conv": "引擎不支持会话（conversation）：请改画消息流",
}


def test_refused_constructs_triggers_refs_loops_and_juel_are_chinese(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    problems = _problems(li, "trip_rare", _rare)
    found = _by_element(problems)
    for element, text in RARE_ZH.items():
        assert text in found.get(element, []), (element, found.get(element))
    assert "临时子流程（adHocSubProcess）不能包含开始事件或结束事件" in found["adhoc"]
    # the expression's own error is the sandbox's (Python's) text: only the sentence around it is translated
    collection = [m for m in found["many"] if m.startswith("camunda:collection")]
    assert collection and collection[0].startswith("camunda:collection `1 +`：line 1: SyntaxError"), found["many"]
    _no_english([p for p in problems if p["element_id"] != "many"])
    english = _by_element(_problems(li, "trip_rare_en", _rare, "en"))  # the English page (and the CLI) as before
    assert "timer end events are not supported by the engine" in english["late"]
    assert "messageRef `nothing` names no message of this file" in english["ghost"]
    assert "JUEL `${amount > 5}` runs as Python `(amount > 5)`" in english["juel"]


def test_what_the_engine_rewrites_and_a_missing_called_process_are_chinese(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    problems = _problems(li, "trip_runs", _runs)
    found = _by_element(problems)
    assert '定时器 `PT1H` 按文本 "PT1H" 读取' in found["wait"], found
    assert "2 条流出的连线按并行分支执行" in found["wait"], found
    assert "链接 `L` 按连线执行，连到 `land`" in found["go"], found
    assert "调用的流程 `elsewhere` 不在本流程包中" in found["call"], found
    _no_english(problems)


def test_a_file_that_is_not_bpmn_says_so_in_chinese(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    problems = _problems(li, "trip_html", lambda xml: "<html/>")
    assert "不是 BPMN 2.0 文件：根元素是 <html>" in [p["message"] for p in problems], problems
    assert "名称：流程图中已没有元素 `start`，这个名称不会被用到" in [p["message"] for p in problems], problems
    _no_english(problems)
    problems = _problems(li, "trip_ns", lambda xml: xml.replace("20100524/MODEL", "20100524/MODEL-X"))
    assert any(p["message"].startswith("不是 BPMN 2.0 文件：根元素是 <bpmn:definitions>（命名空间 ")
               for p in problems), problems


def _attributes(xml: str) -> str:
    """Steps whose attributes (as the panel or an imported Camunda file sets them) are wrong."""
    if "xmlns:camunda" not in xml:
        xml = xml.replace("<bpmn:definitions ", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ', 1)
    steps = ('<bpmn:serviceTask id="svc"/><bpmn:serviceTask id="ext" camunda:type="external"/>'
             '<bpmn:userTask id="fill" liaison:form="nowhere" liaison:timeoutAction="approve"/>'
             '<bpmn:userTask id="vote" liaison:mode="vote"/>'
             '<bpmn:businessRuleTask id="rule"/><bpmn:userTask id="copy" liaison:ccWhen="later"/>')
    return xml.replace("</bpmn:process>", steps + "</bpmn:process>")


def test_the_checks_of_a_steps_attributes_are_chinese(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    problems = _problems(li, "trip_attrs", _attributes)
    found = _by_element(problems)
    assert any(m.startswith("服务任务需要用 liaison:operation 指定一个已注册的操作（可选：") for m in found["svc"]), found
    assert "外部服务任务需要 camunda:topic（外部程序按这个主题领取任务）" in found["ext"], found
    assert "表单 `nowhere` 不在 forms 中（应为 nowhere.yaml）" in found["fill"], found  # not the temporary folder
    assert "设置了 liaison:timeoutAction，就需要 liaison:timeoutAfter（何时自动处理）" in found["fill"], found
    assert "liaison:mode 需要签批人：请设置 liaison:approvers 或 candidateUsers" in found["vote"], found
    assert "业务规则任务需要用 camunda:decisionRef 指定一个决策" in found["rule"], found
    assert "liaison:ccWhen `later` 必须是 reach, finish 之一" in found["copy"], found
    assert "没有 liaison:cc 时，liaison:ccWhen 不起作用" in found["copy"], found
    _no_english(problems)
    english = _by_element(_problems(li, "trip_attrs_en", _attributes, "en"))
    assert "form `nowhere` is not in forms (expected nowhere.yaml)" in english["fill"], english


def test_a_disconnected_end_event_is_only_a_warning_on_the_server(app, people, owner):  # noqa: F811
    """What the modeler's lint badge must agree with (tests/designer/test_lint_severity_browser.py)."""
    li = signed_in(app, owner)
    problems = _problems(li, "trip_lonely", lambda xml: xml.replace(
        "</bpmn:process>", '<bpmn:endEvent id="lonely"/></bpmn:process>'), "en")
    assert [(p["severity"], p["message"]) for p in problems if p["element_id"] == "lonely"] == [
        ("warning", "endEvent has no incoming sequence flow; it can never be reached")]


def test_approver_rules_the_org_chart_does_not_know_are_chinese_warnings(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    steps = ('<bpmn:userTask id="by_user" liaison:approvers="users:ghost"/>'
             '<bpmn:userTask id="by_role" liaison:approvers="role:nope"/>'
             '<bpmn:userTask id="by_dept" liaison:approvers="department:NOPE"/>')
    problems = _problems(li, "trip_rules", lambda xml: xml.replace("</bpmn:process>", steps + "</bpmn:process>"))
    found = _by_element(problems)
    assert "审批人规则 `users:ghost`：没有用户名为 `ghost` 的人员" in found["by_user"], found
    assert "审批人规则 `role:nope`：没有角色 `nope`" in found["by_role"], found
    assert "审批人规则 `department:NOPE`：没有编码为 `NOPE` 的部门" in found["by_dept"], found
    _no_english(problems)


def test_timers_webhooks_and_a_renamed_process_are_chinese(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    steps = ('<bpmn:serviceTask id="hook" liaison:operation="webhook"><bpmn:extensionElements>'
             '<liaison:parameter name="endpoint" value="\'crm\'"/></bpmn:extensionElements></bpmn:serviceTask>'
             '<bpmn:intermediateCatchEvent id="later"><bpmn:timerEventDefinition><bpmn:timeDuration>"PT5X"'
             '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    problems = _problems(li, "trip_hook", lambda xml: xml.replace("</bpmn:process>", steps + "</bpmn:process>"))
    found = _by_element(problems)
    assert "定时器 `PT5X` 不是 ISO 8601 时长（如 PT5M、P2D）" in found["later"], found
    _no_english(problems)
    problems = _problems(li, "trip_hook2", lambda xml: xml.replace("</bpmn:process>", steps.split(
        "<bpmn:intermediateCatchEvent")[0] + "</bpmn:process>"))
    assert any(m.startswith("还没有配置名为 `crm` 的 webhook 端点") for m in _by_element(problems)["hook"]), problems
    _no_english(problems)
    problems = _problems(li, "trip_renamed", lambda xml: re.sub(r'<bpmn:process id="[^"]+"',
                                                                '<bpmn:process id="renamed"', xml))
    assert any(m.startswith("主流程 `trip_renamed` 未定义（现有：renamed）") for m in
               [p["message"] for p in problems]), problems
    _no_english(problems)


def test_the_chain_editor_shows_the_org_chart_warnings_in_chinese(app, people, owner):  # noqa: F811
    from tests.designer.test_flow import new_from, token_of
    li = signed_in(app, owner)
    assert new_from(li, "general", "ask_ghost").status_code == 302
    chain = li.get("/designer/ask_ghost/flow.json").get_json()["chain"]
    chain["nodes"].append({"kind": "approver", "id": "ghostly", "approvers": "users:ghost", "form": "decision"})
    saved = li.put("/designer/ask_ghost/flow.json", json={"revision": 1, "chain": chain},
                   headers={"X-CSRFToken": token_of(li, "ask_ghost")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    found = [p["message"] for p in saved.get_json()["problems"] if p["node_id"] == "ghostly"]
    assert "审批人规则 `users:ghost`：没有用户名为 `ghost` 的人员" in found, found
