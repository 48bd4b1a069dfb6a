//! A small JSONLogic evaluator for rule preconditions (the documented operator subset below),
//! written here instead of pulling a crate: preconditions are data, never code.
//!
//! Operators: `var`, `missing`, `missing_some`, `==`, `!=`, `===`, `!==`, `<`, `<=`, `>`,
//! `>=` (including the three-argument "between" form of `<` and `<=`), `!`, `!!`, `and`, `or`,
//! `if` / `?:`, `in` (substring or array membership), `cat`, `+`, `-`, `*`, `/`, `%`, `min`,
//! `max`, `some`, `all`, `none`. Truthiness follows JSONLogic: `0`, `""`, `[]`, `null` and
//! `false` are false. Evaluation is bounded: nesting deeper than [`MAX_DEPTH`] is an error.

use serde_json::{Map, Number, Value};

/// Deepest nesting accepted (validation and evaluation).
pub const MAX_DEPTH: usize = 64;

/// Why a logic document is invalid or failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LogicError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, LogicError> {
    Err(LogicError(msg.into()))
}

const OPERATORS: &[&str] = &[
    "var",
    "missing",
    "missing_some",
    "==",
    "!=",
    "===",
    "!==",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "!!",
    "and",
    "or",
    "if",
    "?:",
    "in",
    "cat",
    "+",
    "-",
    "*",
    "/",
    "%",
    "min",
    "max",
    "some",
    "all",
    "none",
];

/// Check that a document only uses known operators and is not too deep.
pub fn validate(logic: &Value) -> Result<(), LogicError> {
    validate_at(logic, 0)
}

fn validate_at(logic: &Value, depth: usize) -> Result<(), LogicError> {
    if depth > MAX_DEPTH {
        return err("logic is nested too deeply");
    }
    match logic {
        Value::Object(map) => {
            let (op, args) = single_op(map)?;
            if !OPERATORS.contains(&op) {
                return err(format!("unknown operator {op:?}"));
            }
            match args {
                Value::Array(items) => items.iter().try_for_each(|a| validate_at(a, depth + 1)),
                other => validate_at(other, depth + 1),
            }
        }
        Value::Array(items) => items.iter().try_for_each(|a| validate_at(a, depth + 1)),
        _ => Ok(()),
    }
}

fn single_op(map: &Map<String, Value>) -> Result<(&str, &Value), LogicError> {
    let mut it = map.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        _ => err("an operation must be an object with exactly one key"),
    }
}

/// JSONLogic truthiness.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// Evaluate `logic` against `data`.
pub fn apply(logic: &Value, data: &Value) -> Result<Value, LogicError> {
    eval(logic, data, 0)
}

fn args_of(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Null => Some(0.0),
        _ => None,
    }
}

fn to_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        // Exact integers stay integers (so `{"+": [1, 2]}` is `3`, not `3.0`).
        #[allow(clippy::cast_possible_truncation)]
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_), _)
        | (_, Value::Number(_))
        | (Value::Bool(_), _)
        | (_, Value::Bool(_)) => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Value::String(x), Value::String(y)) = (a, b) {
        return Some(x.cmp(y));
    }
    num(a)?.partial_cmp(&num(b)?)
}

fn var(path: &Value, default: Option<&Value>, data: &Value) -> Value {
    let key = text(path);
    if key.is_empty() {
        return data.clone();
    }
    let mut cur = data;
    for seg in key.split('.') {
        let next = match cur {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return default.cloned().unwrap_or(Value::Null),
        }
    }
    cur.clone()
}

fn eval(logic: &Value, data: &Value, depth: usize) -> Result<Value, LogicError> {
    if depth > MAX_DEPTH {
        return err("logic is nested too deeply");
    }
    let map = match logic {
        Value::Object(m) => m,
        Value::Array(items) => {
            return items
                .iter()
                .map(|i| eval(i, data, depth + 1))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        other => return Ok(other.clone()),
    };
    let (op, raw) = single_op(map)?;
    let raw_args = args_of(raw);
    // Operators that control evaluation of their own arguments.
    match op {
        "if" | "?:" => {
            let mut i = 0;
            while i + 1 < raw_args.len() {
                if truthy(&eval(raw_args[i], data, depth + 1)?) {
                    return eval(raw_args[i + 1], data, depth + 1);
                }
                i += 2;
            }
            return match raw_args.get(i) {
                Some(e) if i < raw_args.len() => eval(e, data, depth + 1),
                _ => Ok(Value::Null),
            };
        }
        "and" => {
            let mut last = Value::Bool(true);
            for a in &raw_args {
                last = eval(a, data, depth + 1)?;
                if !truthy(&last) {
                    return Ok(last);
                }
            }
            return Ok(last);
        }
        "or" => {
            let mut last = Value::Bool(false);
            for a in &raw_args {
                last = eval(a, data, depth + 1)?;
                if truthy(&last) {
                    return Ok(last);
                }
            }
            return Ok(last);
        }
        "some" | "all" | "none" => {
            let list = eval(raw_args.first().copied().unwrap_or(&Value::Null), data, depth + 1)?;
            let test = raw_args.get(1).copied().unwrap_or(&Value::Null);
            let items = match list {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            let mut hits = 0usize;
            for item in &items {
                if truthy(&eval(test, item, depth + 1)?) {
                    hits += 1;
                }
            }
            return Ok(Value::Bool(match op {
                "some" => hits > 0,
                "all" => !items.is_empty() && hits == items.len(),
                _ => hits == 0,
            }));
        }
        _ => {}
    }
    let args: Vec<Value> =
        raw_args.iter().map(|a| eval(a, data, depth + 1)).collect::<Result<_, _>>()?;
    let a0 = args.first().unwrap_or(&Value::Null);
    let a1 = args.get(1).unwrap_or(&Value::Null);
    Ok(match op {
        "var" => var(a0, args.get(1), data),
        "missing" => {
            let keys: Vec<&Value> = match a0 {
                Value::Array(a) if args.len() == 1 => a.iter().collect(),
                _ => args.iter().collect(),
            };
            Value::Array(
                keys.into_iter().filter(|k| var(k, None, data).is_null()).cloned().collect(),
            )
        }
        "missing_some" => {
            let need = num(a0).unwrap_or(0.0);
            let keys = match a1 {
                Value::Array(a) => a.clone(),
                _ => Vec::new(),
            };
            let missing: Vec<Value> =
                keys.iter().filter(|k| var(k, None, data).is_null()).cloned().collect();
            #[allow(clippy::cast_precision_loss)]
            let present = (keys.len() - missing.len()) as f64;
            if present >= need {
                Value::Array(Vec::new())
            } else {
                Value::Array(missing)
            }
        }
        "==" => Value::Bool(loose_eq(a0, a1)),
        "!=" => Value::Bool(!loose_eq(a0, a1)),
        "===" => Value::Bool(a0 == a1),
        "!==" => Value::Bool(a0 != a1),
        "<" | "<=" | ">" | ">=" => {
            let ok = |x: &Value, y: &Value| {
                compare(x, y).is_some_and(|o| match op {
                    "<" => o.is_lt(),
                    "<=" => o.is_le(),
                    ">" => o.is_gt(),
                    _ => o.is_ge(),
                })
            };
            match args.get(2) {
                Some(a2) if op == "<" || op == "<=" => Value::Bool(ok(a0, a1) && ok(a1, a2)),
                _ => Value::Bool(ok(a0, a1)),
            }
        }
        "!" => Value::Bool(!truthy(a0)),
        "!!" => Value::Bool(truthy(a0)),
        "in" => match a1 {
            Value::String(s) => Value::Bool(s.contains(&text(a0))),
            Value::Array(items) => Value::Bool(items.iter().any(|i| loose_eq(i, a0) || i == a0)),
            _ => Value::Bool(false),
        },
        "cat" => Value::String(args.iter().map(text).collect()),
        "+" => to_value(args.iter().filter_map(num).sum()),
        "*" => to_value(args.iter().filter_map(num).product()),
        "-" => match (args.len(), num(a0), num(a1)) {
            (1, Some(x), _) => to_value(-x),
            (_, Some(x), Some(y)) => to_value(x - y),
            _ => Value::Null,
        },
        "/" => match (num(a0), num(a1)) {
            (Some(x), Some(y)) if y != 0.0 => to_value(x / y),
            _ => Value::Null,
        },
        "%" => match (num(a0), num(a1)) {
            (Some(x), Some(y)) if y != 0.0 => to_value(x % y),
            _ => Value::Null,
        },
        "min" => args.iter().filter_map(num).reduce(f64::min).map_or(Value::Null, to_value),
        "max" => args.iter().filter_map(num).reduce(f64::max).map_or(Value::Null, to_value),
        other => return err(format!("unknown operator {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn t(logic: Value, data: Value) -> Value {
        apply(&logic, &data).unwrap()
    }

    #[test]
    fn basics() {
        let d = json!({"oui": "00D09E", "tags": ["lab", "vip"], "n": 5, "x": {"y": "z"}});
        assert_eq!(t(json!({"==": [{"var": "oui"}, "00D09E"]}), d.clone()), json!(true));
        assert_eq!(t(json!({"in": ["vip", {"var": "tags"}]}), d.clone()), json!(true));
        assert_eq!(t(json!({"in": ["D09", {"var": "oui"}]}), d.clone()), json!(true));
        assert_eq!(t(json!({"var": "x.y"}), d.clone()), json!("z"));
        assert_eq!(t(json!({"var": ["nope", 7]}), d.clone()), json!(7));
        assert_eq!(t(json!({"<": [1, {"var": "n"}, 10]}), d.clone()), json!(true));
        assert_eq!(
            t(json!({"and": [true, {"!": false}, {"==": ["5", 5]}]}), d.clone()),
            json!(true)
        );
        assert_eq!(t(json!({"===": ["5", 5]}), d.clone()), json!(false));
        assert_eq!(t(json!({"or": [0, "", "x"]}), d.clone()), json!("x"));
        assert_eq!(t(json!({"if": [false, 1, {"==": [1, 1]}, 2, 3]}), d.clone()), json!(2));
        assert_eq!(t(json!({"cat": ["a", 1, "b"]}), d.clone()), json!("a1b"));
        assert_eq!(t(json!({"+": [1, 2]}), d.clone()), json!(3));
        assert_eq!(t(json!({"missing": ["oui", "zzz"]}), d.clone()), json!(["zzz"]));
        assert_eq!(
            t(json!({"some": [{"var": "tags"}, {"==": [{"var": ""}, "lab"]}]}), d.clone()),
            json!(true)
        );
        assert_eq!(
            t(json!({"none": [{"var": "tags"}, {"==": [{"var": ""}, "x"]}]}), d.clone()),
            json!(true)
        );
        assert_eq!(t(json!({"max": [1, 9, 3]}), d), json!(9));
    }

    #[test]
    fn validation() {
        assert!(validate(&json!({"==": [{"var": "oui"}, "x"]})).is_ok());
        assert!(validate(&json!(true)).is_ok());
        let e = validate(&json!({"eval": ["x"]})).unwrap_err();
        assert!(e.0.contains("eval"), "{e}");
        assert!(validate(&json!({"==": [1, 1], "!=": [1, 2]})).is_err());
        let mut deep = json!(true);
        for _ in 0..100 {
            deep = json!({"!": [deep]});
        }
        assert!(validate(&deep).is_err());
        assert!(apply(&deep, &json!({})).is_err());
    }
}
