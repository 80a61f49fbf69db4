use super::*;
use crate::output::{Filter, SortKey};
use crate::replay::Report;

/// Records that differ in every measure the sorts use, some without values.
fn records() -> Vec<StreamRecord> {
    (0..40u32)
        .map(|i| {
            let mut r = crate::export::test_record();
            r.ssrc = i.wrapping_mul(0x9E37_79B9);
            r.src = format!("10.0.{}.{}:5004", i % 3, i);
            r.payload_types = vec![[0, 8, 96][i as usize % 3]];
            let missing = u64::from(i * 7 % 11);
            (r.expected, r.packets, r.missing, r.lost) =
                (100, 100 - missing, missing, missing as i64);
            r.jitter_ms = (i % 4 != 0).then_some(f64::from(i % 5));
            r.cname = (i % 5 == 0).then(|| format!("user \"{i}\", with\nbreak"));
            r
        })
        .collect()
}

fn report(streams: Vec<StreamRecord>) -> Report {
    let mut summary = crate::replay::Run::new(Default::default())
        .finish(String::from("f.pcap"), 1, None)
        .summary;
    summary.streams = streams.len();
    Report {
        summary,
        streams,
        calls: Vec::new(),
        hops: Vec::new(),
        ice_sessions: Vec::new(),
        turn_allocations: Vec::new(),
    }
}

fn render(c: Collector, s: &Summary) -> String {
    let mut out = Vec::new();
    c.write(s, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn selections() -> Vec<Selection> {
    let sort = |k| Selection {
        sort: Some(k),
        ..Selection::default()
    };
    vec![
        Selection::default(),
        sort(SortKey::Loss),
        sort(SortKey::Jitter),
        sort(SortKey::Mos),
        Selection {
            sort: Some(SortKey::Packets),
            top: Some(7),
            filters: vec![Filter::Addr("10.0.1.0".parse().unwrap()), Filter::Ssrc(0)],
        },
        Selection {
            top: Some(3),
            ..Selection::default()
        },
        Selection {
            filters: vec![Filter::Ssrc(1)],
            ..Selection::default()
        },
    ]
}

/// The JSON is byte for byte what serde_json writes for the whole report at once.
#[test]
fn json_equals_serde_json_of_the_report() {
    for streams in [records(), vec![], records().into_iter().take(1).collect()] {
        let rep = report(streams);
        let mut c = Collector::new(Format::Json, Selection::default(), false);
        for (i, r) in rep.streams.iter().enumerate() {
            c.push(i as u64, r);
        }
        let want = serde_json::to_string_pretty(&rep).unwrap() + "\n";
        assert_eq!(render(c, &rep.summary), want);
    }
}

/// What the selection shows, the old way: filter, stable sort worst first, truncate.
#[test]
fn json_of_a_selection_equals_serde_json_of_the_selected_streams() {
    let rep = report(records());
    for sel in selections() {
        let mut c = Collector::new(Format::Json, sel.clone(), false);
        for (i, r) in rep.streams.iter().enumerate() {
            c.push(i as u64, r);
        }
        let want = serde_json::json!({
            "summary": serde_json::to_value(&rep.summary).unwrap(),
            "streams": sel.apply(&rep),
        });
        let got: serde_json::Value = serde_json::from_str(&render(c, &rep.summary)).unwrap();
        assert_eq!(got, want, "{sel:?}");
    }
}

/// Streams ending in any order, spilled to disk in runs of a few and merged in several passes,
/// print exactly as the in-memory report in order of first appearance, in every format and
/// selection.
#[test]
fn spilled_out_of_order_equals_in_memory_in_order() {
    let rep = report(records());
    let n = rep.streams.len();
    for format in [Format::Json, Format::Csv, Format::Table] {
        for sel in selections() {
            let mut reference = Vec::new();
            crate::output::write(&rep, format, &sel, false, &mut reference).unwrap();
            let mut c = Collector::with_sorter(format, sel.clone(), false, Sorter::new(2_000, 2));
            // Ended in a scrambled order.
            for k in 0..n {
                let i = k * 17 % n;
                c.push(i as u64, &rep.streams[i]);
            }
            assert!(c.spilled() || !sel.filters.is_empty(), "{format:?}");
            assert!(c.peak_in_memory() < n / 3, "{}", c.peak_in_memory());
            let got = render(c, &rep.summary);
            assert_eq!(
                got,
                String::from_utf8(reference).unwrap(),
                "{format:?} {sel:?}"
            );
        }
    }
}

#[test]
fn worst_first_keys_sort_high_scores_first_and_no_value_last() {
    let mut v = [0.5, -0.0, f64::NEG_INFINITY, 3.0, -2.0, 0.0, f64::INFINITY];
    v.sort_by_key(|s| worst_first(*s));
    assert_eq!(v[..4], [f64::INFINITY, 3.0, 0.5, 0.0]);
    assert_eq!(v[4], 0.0);
    assert_eq!(v[5..], [-2.0, f64::NEG_INFINITY]);
    assert_eq!(worst_first(0.0), worst_first(-0.0));
}
