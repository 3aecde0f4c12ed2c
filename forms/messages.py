"""Validation messages in English and Simplified Chinese (forms is below Flask, so not Flask-Babel)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("This field is required.", "此项为必填项。"),
    "unknown": ("Unknown field.", "未知字段。"),
    "readonly": ("This field is read-only at this step.", "此步骤中该字段为只读。"),
    "not_text": ("Must be text.", "必须是文本。"),
    "too_short": ("Must be at least {n} characters.", "至少需要 {n} 个字符。"),
    "too_long": ("Must be at most {n} characters.", "最多 {n} 个字符。"),
    "pattern": ("Does not have the expected format.", "格式不正确。"),
    "not_number": ("Must be a number.", "必须是数字。"),
    "not_integer": ("Must be a whole number.", "必须是整数。"),
    "min": ("Must be at least {n}.", "不能小于 {n}。"),
    "max": ("Must be at most {n}.", "不能大于 {n}。"),
    "step": ("Must be a multiple of {n}.", "必须是 {n} 的整数倍。"),
    "not_money": ("Must be an amount with at most two decimals.", "必须是最多两位小数的金额。"),
    "negative": ("Must not be negative.", "不能为负数。"),
    "not_date": ("Must be a date (YYYY-MM-DD).", "必须是日期（YYYY-MM-DD）。"),
    "not_datetime": ("Must be a date and time (YYYY-MM-DD HH:MM).", "必须是日期和时间（YYYY-MM-DD HH:MM）。"),
    "date_min": ("Must not be before {n}.", "不能早于 {n}。"),
    "date_max": ("Must not be after {n}.", "不能晚于 {n}。"),
    "range_incomplete": ("Give both the start and the end.", "请填写开始和结束。"),
    "range_order": ("The end is before the start.", "结束早于开始。"),
    "duration_min": ("Must last at least {n} {unit}.", "时长不能少于 {n} {unit}。"),
    "duration_max": ("Must last at most {n} {unit}.", "时长不能超过 {n} {unit}。"),
    "choice": ("`{value}` is not one of the choices.", "“{value}”不是可选项。"),
    "choices_min": ("Choose at least {n}.", "至少选择 {n} 项。"),
    "choices_max": ("Choose at most {n}.", "最多选择 {n} 项。"),
    "one_value": ("Give one value, not a list.", "只能填写一个值。"),
    "not_list": ("Must be a list.", "必须是列表。"),
    "no_user": ("`{value}` is not a known user.", "用户“{value}”不存在。"),
    "self_approver": ("You cannot pick yourself as your approver.", "不能选择自己作为审批人。"),
    "no_department": ("`{value}` is not a known department.", "部门“{value}”不存在。"),
    "no_instance": ("`{value}` is not an approval you may see.", "关联审批“{value}”不存在或无权查看。"),
    "rating": ("Must be a whole number from 1 to {n}.", "必须是 1 到 {n} 的整数。"),
    "rows_min": ("Needs at least {n} rows.", "至少需要 {n} 行。"),
    "rows_max": ("Allows at most {n} rows.", "最多 {n} 行。"),
    "not_rows": ("Must be a list of rows.", "必须是行的列表。"),
    "not_fields": ("Must be a list of fields.", "必须是字段的列表。"),
    "files_max": ("Attach at most {n} files.", "最多上传 {n} 个文件。"),
    "file_bad": ("Not an uploaded file.", "不是已上传的文件。"),
    "file_size": ("`{name}` is larger than {n}.", "文件“{name}”超过 {n}。"),
    "file_type": ("`{name}` is not an accepted type ({n}).", "文件“{name}”类型不允许（{n}）。"),
    "file_missing": ("`{name}` was not found in the file store.", "文件“{name}”不存在。"),
    "file_checksum": ("`{name}` does not match its checksum.", "文件“{name}”校验和不符。"),
    "answer": ("Give an answer.", "请作答。"),
    "not_bool": ("Must be true or false.", "必须是“是”或“否”。"),
    "formula_failed": ("Could not be computed: {n}", "无法计算：{n}"),
    "days": ("days", "天"),
    "hours": ("hours", "小时"),
}


def message(lang: str, key: str, **values) -> str:
    english, chinese = MESSAGES[key]
    return (chinese if str(lang).lower().startswith("zh") else english).format(**values)
