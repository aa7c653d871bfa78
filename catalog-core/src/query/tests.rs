use super::*;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn cmp(field: &str, cmp: Cmp, value: Literal) -> Expr {
    Expr::Compare {
        field: field.into(),
        cmp,
        value,
    }
}

#[test]
fn precedence_and_literals() {
    let q = parse("a = 1 or b > 2.5 and not c = \"x\\\"y\"").unwrap();
    assert_eq!(
        q.filter,
        Expr::Or {
            args: vec![
                cmp("a", Cmp::Eq, Literal::Int(1)),
                Expr::And {
                    args: vec![
                        cmp("b", Cmp::Gt, Literal::Float(2.5)),
                        Expr::Not {
                            arg: Box::new(cmp("c", Cmp::Eq, Literal::String("x\"y".into())))
                        },
                    ]
                }
            ]
        }
    );
}

#[test]
fn sizes_ranges_datetimes() {
    let q = parse("size >= 2GiB and size < 1.5MB and run in 10..20 and t > 2016-01-01 and u <= 2016-01-01T12:00:00+01:00").unwrap();
    let Expr::And { args } = q.filter else {
        panic!()
    };
    assert_eq!(args[0], cmp("size", Cmp::Ge, Literal::Int(2 << 30)));
    assert_eq!(args[1], cmp("size", Cmp::Lt, Literal::Int(1_500_000)));
    assert_eq!(
        args[2],
        Expr::Range {
            field: "run".into(),
            low: Literal::Int(10),
            high: Literal::Int(20)
        }
    );
    let day: DateTime<Utc> = "2016-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(args[3], cmp("t", Cmp::Gt, Literal::Datetime(day)));
    let noon: DateTime<Utc> = "2016-01-01T11:00:00Z".parse().unwrap();
    assert_eq!(args[4], cmp("u", Cmp::Le, Literal::Datetime(noon)));
}

#[test]
fn scopes_relations_order_limit() {
    let q = parse(
        "under \"/a b\" and dataset = \"d\" and replica_at = \"local\" and ancestor(run = 3, depth <= 2) \
         and child(has(x)) and descendant(missing(y), depth < 4) and path ~ \"/a/*.txt\" and k not in (1, 2) \
         order by start_time desc, size limit 5",
    )
    .unwrap();
    assert_eq!(q.limit, Some(5));
    assert_eq!(q.order.len(), 2);
    assert!(q.order[0].descending && !q.order[1].descending);
    let Expr::And { args } = &q.filter else {
        panic!()
    };
    assert_eq!(args.len(), 8);
    assert_eq!(
        args[3],
        Expr::Related {
            relation: Relation::Ancestor,
            query: Box::new(cmp("run", Cmp::Eq, Literal::Int(3))),
            max_depth: Some(2)
        }
    );
    assert!(matches!(
        &args[5],
        Expr::Related {
            max_depth: Some(3),
            ..
        }
    ));
    assert_eq!(
        q.to_string(),
        "under \"/a b\" and dataset = \"d\" and replica_at = \"local\" and ancestor(run = 3, depth <= 2) \
         and child(has(x)) and descendant(missing(y), depth <= 3) and path ~ \"/a/*.txt\" and k not in (1, 2) \
         order by start_time desc, size limit 5"
    );
}

#[test]
fn empty_query_is_all() {
    assert_eq!(parse("").unwrap(), Query::all());
    assert_eq!(parse("  limit 3").unwrap().limit, Some(3));
    assert_eq!(parse("order by size").unwrap().filter, Expr::All);
}

#[test]
fn errors_name_line_column_and_expectation() {
    let e = parse("run = 3 and\n  size > ").unwrap_err();
    assert_eq!((e.line, e.column), (2, 10));
    assert!(e.expected.starts_with("a value"), "{e}");
    assert_eq!(e.found, "end of query");

    let e = parse("run == 3").unwrap_err();
    assert_eq!((e.line, e.column), (1, 6));
    let e = parse("(run = 3").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 9: expected ')' to close the parenthesis, found end of query"
    );
    let e = parse("run = \"abc").unwrap_err();
    assert!(e.found.contains("inside a string"), "{e}");
    let e = parse("size > 3XB").unwrap_err();
    assert!(e.found.contains("size units"), "{e}");
    let e = parse("parent(a = 1, depth <= 2)").unwrap_err();
    assert!(e.expected.contains("one generation"), "{e}");
    let e = parse("order = 3").unwrap_err();
    assert_eq!(e.expected, "'by'");
    let e = parse("a = 1 b = 2").unwrap_err();
    assert_eq!((e.column, e.found.as_str()), (7, "'b'"));
    let e = parse(&"(".repeat(200)).unwrap_err();
    assert!(e.expected.contains("nesting"), "{e}");
    assert!(parse("a = 99999999999999999999").is_err());
    // Ten thousand run numbers fit; a query longer than the limit is refused by its size.
    let runs: Vec<String> = (100_000..110_000).map(|r| r.to_string()).collect();
    assert!(parse(&format!("run in ({})", runs.join(", "))).is_ok());
    let e = parse(&format!("a = \"{}\"", "x".repeat(MAX_QUERY_BYTES))).unwrap_err();
    assert!(e.expected.contains("at most 262144 bytes"), "{e}");
}

#[test]
fn dirac_terms() {
    let t = DiracTerm::parse("run>=3").unwrap();
    assert_eq!(
        (t.field.as_str(), t.cmp, t.values.clone()),
        ("run", Cmp::Ge, vec!["3".to_owned()])
    );
    let t = DiracTerm::parse("det=a,b").unwrap();
    assert_eq!(t.values, vec!["a", "b"]);
    assert!(DiracTerm::parse("run").is_err());
    assert!(DiracTerm::parse("=3").is_err());
    let q = from_dirac_terms(
        "/d",
        vec![(
            t,
            vec![Literal::String("a".into()), Literal::String("b".into())],
        )],
    );
    assert_eq!(q.to_string(), "under \"/d\" and det in (\"a\", \"b\")");
}

#[test]
fn json_form_round_trips() {
    let q = parse("a in (1, 2.5, \"x\", true, 2016-01-01) and not b ~ \"*\" limit 2").unwrap();
    let json = serde_json::to_value(&q).unwrap();
    assert_eq!(json["filter"]["op"], "and");
    assert_eq!(
        json["filter"]["args"][0]["values"][1],
        serde_json::json!({"float": 2.5})
    );
    let back: Query = serde_json::from_value(json).unwrap();
    assert_eq!(back, q);
}

fn field() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,8}".prop_filter("not a word of the language", |s| {
        !is_reserved(s) || builtin_type(s).is_some()
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<i64>().prop_map(Literal::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Literal::Float),
        any::<String>().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        (-62_000_000_000_000_000i64..250_000_000_000_000_000i64)
            .prop_map(|us| Literal::Datetime(DateTime::from_timestamp_micros(us).unwrap())),
    ]
}

fn cmp_op() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        Just(Cmp::Eq),
        Just(Cmp::Ne),
        Just(Cmp::Lt),
        Just(Cmp::Le),
        Just(Cmp::Gt),
        Just(Cmp::Ge)
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (field(), cmp_op(), literal()).prop_map(|(field, cmp, value)| Expr::Compare {
            field,
            cmp,
            value
        }),
        (
            field(),
            prop::collection::vec(literal(), 1..4),
            any::<bool>()
        )
            .prop_map(|(field, values, negated)| Expr::In {
                field,
                values,
                negated
            }),
        (field(), literal(), literal()).prop_map(|(field, low, high)| Expr::Range {
            field,
            low,
            high
        }),
        (field(), any::<String>()).prop_map(|(field, pattern)| Expr::Glob { field, pattern }),
        field().prop_map(|field| Expr::Has { field }),
        field().prop_map(|field| Expr::Missing { field }),
        any::<String>().prop_map(|path| Expr::Under { path }),
        any::<String>().prop_map(|name| Expr::Dataset { name }),
        any::<String>().prop_map(|se| Expr::ReplicaAt { se }),
        Just(Expr::All),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::And { args }),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|args| Expr::Or { args }),
            inner.clone().prop_map(|a| Expr::Not { arg: Box::new(a) }),
            (
                prop_oneof![
                    Just(Relation::Parent),
                    Just(Relation::Child),
                    Just(Relation::Ancestor),
                    Just(Relation::Descendant)
                ],
                inner,
                proptest::option::of(1u32..10)
            )
                .prop_map(|(relation, q, d)| Expr::Related {
                    relation,
                    query: Box::new(q),
                    max_depth: if matches!(relation, Relation::Parent | Relation::Child) {
                        None
                    } else {
                        d
                    },
                }),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    (
        expr(),
        prop::collection::vec(
            (field(), any::<bool>()).prop_map(|(field, descending)| OrderKey { field, descending }),
            0..3,
        ),
        proptest::option::of(0u64..(i64::MAX as u64)),
    )
        .prop_map(|(filter, order, limit)| Query {
            filter,
            order,
            limit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_ast(q in query()) {
        let text = q.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, q, "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn query_like_text_never_panics(s in "[a-z0-9 ()<>=!~\",.:TZ+\\-\\\\]{0,60}") {
        if let Ok(q) = parse(&s) {
            let again = parse(&q.to_string()).expect("normalised form parses");
            prop_assert_eq!(again, q);
        }
    }
}

#[test]
fn type_errors_are_placed_at_their_condition() {
    use crate::meta::FieldType;
    let declared = |name: &str| match name {
        "run" => Some(FieldType::Int),
        "det" => Some(FieldType::String),
        "ok" => Some(FieldType::Bool),
        _ => None,
    };
    let text = "run = 3 and has(zz) and\n   det = 5";
    let (q, pos) = parse_located(text).unwrap();
    let e = check(&q, &declared).unwrap_err();
    assert_eq!((pos[e.leaf].line, pos[e.leaf].column), (2, 4));
    assert!(e.message.contains("'det' is string, but 5 is int"), "{e}");

    let (q, pos) = parse_located("ancestor(run = 1) order by size, nope").unwrap();
    let e = check(&q, &declared).unwrap_err();
    assert_eq!(pos[e.leaf].column, 34);
    assert!(e.message.contains("unknown field 'nope'"));

    assert!(check(&parse("ok > true").unwrap(), &declared).is_err());
    assert!(check(&parse("size ~ \"x\"").unwrap(), &declared).is_err());
    assert!(check(
        &parse("size > 2GiB and created > 2016-01-01 and run in 1..2 and missing(zz)").unwrap(),
        &declared
    )
    .is_ok());
    assert_eq!(
        fields(&parse("a = 1 or b = 2 order by a").unwrap()),
        vec!["a", "b"]
    );
}

/// The fuzzer's corpus (`fuzz/corpus/parse_query`: seeds, and every input a fuzzing run kept
/// or crashed on) replayed in every test run: no panic, and what parses prints back to the
/// same query.
#[test]
fn fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/parse_query");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the fuzz corpus is in the repository") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("corpus file");
        n += 1;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Ok(q) = parse(text) {
            let printed = q.to_string();
            let again = parse(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
            assert_eq!(again, q, "{text:?} printed as {printed:?}");
        }
    }
    assert!(n >= 80, "only {n} corpus files in {}", dir.display());
}
