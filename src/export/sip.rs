//! The SIP stages' metrics (`crate::sip`), summed over the capture threads: calls by outcome,
//! messages, the dialog table's size and evictions (docs/metrics.md, docs/calls.md).

use super::metrics::Out;
use super::names;

pub(super) fn encode(o: &mut Out<'_>, c: &crate::sip::SipCounters) {
    o.family(&names::CALLS);
    for (outcome, n) in c.outcomes.pairs() {
        let labels = format!("kind=\"sip\",outcome=\"{outcome}\"");
        o.sample(names::CALLS.name, "", &labels, n);
    }
    o.family(&names::SIP_MESSAGES);
    for (kind, n) in [("request", c.requests), ("response", c.responses)] {
        o.sample(names::SIP_MESSAGES.name, "", &format!("kind=\"{kind}\""), n);
    }
    for (m, v) in [
        (&names::SIP_MALFORMED, c.malformed),
        (&names::SIP_OUTSIDE_DIALOGS, c.outside_dialogs),
        (&names::SIP_DIALOGS, c.active_dialogs),
        (&names::SIP_DIALOG_EVICTIONS, c.evicted),
    ] {
        o.family(m);
        o.sample(m.name, "", "", v);
    }
}
