//! `commonplace roster import roster.csv`: who is in which team. The file has a header
//! line naming the columns `learner`, `name`, `team`, `manager` and optionally
//! `opt_out` (`true`/`yes`/`1` leaves the learner out of learner-level reports) and
//! `also` (the learner's other IFIs, separated by `;`: their Statements count as the
//! learner's).
//! `learner` is an IFI: `mailto:ada@example.org`, or any IFI as the LRS writes it
//! (`mbox:mailto:…`, `mbox_sha1sum:…`, `openid:…`, `account:HOMEPAGE|NAME`).

use crate::store::reports::RosterEntry;

/// Parses roster CSV (RFC 4180 quoting); errors name the line.
pub fn parse(text: &str) -> Result<Vec<RosterEntry>, String> {
    let mut records = records(text)?.into_iter();
    let (_, header) = records.next().ok_or("the roster is empty")?;
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let required = |name: &str| column(name).ok_or(format!("the header has no '{name}' column"));
    let (learner, name, team, manager) = (
        required("learner")?,
        required("name")?,
        required("team")?,
        required("manager")?,
    );
    let opt_out = column("opt_out");
    let also = column("also");
    let mut entries: Vec<RosterEntry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, fields) in records {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |i: usize| {
            fields
                .get(i)
                .map(|f| f.trim().to_string())
                .unwrap_or_default()
        };
        let ifi = canonical_ifi(&get(learner))
            .ok_or_else(|| format!("line {line}: '{}' is not a learner IFI", get(learner)))?;
        if get(team).is_empty() {
            return Err(format!("line {line}: no team"));
        }
        let aliases = also
            .map(get)
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                canonical_ifi(a).ok_or_else(|| format!("line {line}: also: '{a}' is not an IFI"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for id in std::iter::once(&ifi).chain(&aliases) {
            if !seen.insert(id.clone()) {
                return Err(format!(
                    "line {line}: {id} is already a learner or an alias above"
                ));
            }
        }
        entries.push(RosterEntry {
            aliases,
            learner: ifi,
            name: get(name),
            team: get(team),
            manager: get(manager),
            opted_out: opt_out
                .is_some_and(|i| matches!(get(i).to_lowercase().as_str(), "true" | "yes" | "1")),
        });
    }
    Ok(entries)
}

pub fn canonical_ifi(raw: &str) -> Option<String> {
    if raw.starts_with("mailto:") && raw.len() > 7 {
        return Some(format!("mbox:{raw}"));
    }
    let known = ["mbox:mailto:", "mbox_sha1sum:", "openid:", "account:"];
    known
        .iter()
        .any(|p| raw.starts_with(p) && raw.len() > p.len())
        .then(|| raw.to_string())
}

/// One field of the CSV Commonplace writes (reports, invitations): RFC 4180 quoting,
/// and a leading quote mark for text a spreadsheet would run as a formula (a learner
/// IFI, name or team is outside our control).
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Records with the line each starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(format!("line {start}: a quoted field is not closed"));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }

    #[test]
    fn reads_a_roster_with_quotes_and_opt_outs() {
        let text = "learner,name,team,manager,opt_out\r\n\
                    mailto:ada@example.org,\"Lovelace, Ada\",Design,mailto:grace@example.org,\n\
                    account:https://hr.example.org|77,Bob,\"Ops \"\"East\"\"\",Grace,yes\n\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].learner, "mbox:mailto:ada@example.org");
        assert_eq!(entries[0].name, "Lovelace, Ada");
        assert!(!entries[0].opted_out);
        assert_eq!(entries[1].team, "Ops \"East\"");
        assert!(entries[1].opted_out);
    }

    #[test]
    fn names_the_line_of_a_bad_learner_and_needs_the_columns() {
        let error = parse("learner,name,team,manager\nada,Ada,Design,Grace\n").unwrap_err();
        assert!(error.starts_with("line 2"), "{error}");
        assert!(parse("learner,name,team\n")
            .unwrap_err()
            .contains("manager"));
        assert!(parse("learner,name,team,manager\n\"open").is_err());
    }

    #[test]
    fn other_ifis_of_a_learner_and_no_ifi_twice() {
        let text = "learner,name,team,manager,also\n\
                    mailto:ada@work.example.org,Ada,Design,Grace,mailto:ada@home.example.org; account:https://hr.example.org|77\n\
                    mailto:bob@example.org,Bob,Ops,Grace,\n";
        let entries = parse(text).unwrap();
        assert_eq!(
            entries[0].aliases,
            [
                "mbox:mailto:ada@home.example.org",
                "account:https://hr.example.org|77"
            ]
        );
        assert!(entries[1].aliases.is_empty());
        let twice = "learner,name,team,manager,also\n\
                     mailto:ada@example.org,Ada,Design,Grace,mailto:bob@example.org\n\
                     mailto:bob@example.org,Bob,Ops,Grace,\n";
        assert!(parse(twice).unwrap_err().starts_with("line 3"));
        let not_an_ifi = "learner,name,team,manager,also\nmailto:a@example.org,A,T,M,ada\n";
        assert!(parse(not_an_ifi).unwrap_err().contains("also: 'ada'"));
    }
}
