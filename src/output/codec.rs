//! Codec names for the table: RFC 3551 §6 (Tables 4 and 5) names of the static RTP payload
//! types, and `dyn/<clock rate>` for dynamic ones (96–127), whose codec only the signalling
//! (SDP) names: a passive probe without it knows at most their clock rate.

/// The RFC 3551 encoding name of a static payload type, `None` for unassigned, reserved and
/// dynamic ones.
pub fn static_name(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU",
        3 => "GSM",
        4 => "G723",
        5 | 6 | 16 | 17 => "DVI4",
        7 => "LPC",
        8 => "PCMA",
        9 => "G722",
        10 | 11 => "L16",
        12 => "QCELP",
        13 => "CN",
        14 => "MPA",
        15 => "G728",
        18 => "G729",
        25 => "CelB",
        26 => "JPEG",
        28 => "nv",
        31 => "H261",
        32 => "MPV",
        33 => "MP2T",
        34 => "H263",
        _ => return None,
    })
}

/// One name per payload type, joined by `,`: the static name, `dyn/<rate>` for the stream's
/// first (main) payload type when dynamic and its clock rate is known, `dyn` for other dynamic
/// ones, `pt<N>` for unassigned ones.
pub fn names(pts: &[u8], clock_rate: Option<u32>) -> String {
    if pts.is_empty() {
        return "-".into();
    }
    let name = |(i, &pt): (usize, &u8)| match static_name(pt) {
        Some(n) => n.to_string(),
        None if (96..=127).contains(&pt) => match clock_rate.filter(|_| i == 0) {
            Some(r) => format!("dyn/{r}"),
            None => "dyn".into(),
        },
        None => format!("pt{pt}"),
    };
    pts.iter()
        .enumerate()
        .map(name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dynamic() {
        assert_eq!(names(&[0, 13], Some(8000)), "PCMU,CN");
        assert_eq!(names(&[96, 101], Some(90_000)), "dyn/90000,dyn");
        assert_eq!(names(&[111], None), "dyn");
        assert_eq!(names(&[20], None), "pt20");
        assert_eq!(names(&[], None), "-");
    }
}
