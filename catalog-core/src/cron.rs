//! Cron expressions (`minute hour day-of-month month day-of-week`, UTC): `*`, lists `1,5`,
//! ranges `1-5`, steps `*/15` and `10-50/20`; day-of-week 0-7 with 0 and 7 Sunday. When both
//! day fields are restricted, a day matching either counts, as in cron.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    days_any: bool,
    weekdays_any: bool,
}

fn field(text: &str, min: u32, max: u32, what: &str) -> Result<(Vec<bool>, bool), String> {
    let mut set = vec![false; max as usize + 1];
    let any = text == "*";
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                a.parse().map_err(|_| format!("{what}: {part:?}"))?,
                b.parse().map_err(|_| format!("{what}: {part:?}"))?,
            )
        } else {
            let v: u32 = range
                .parse()
                .map_err(|_| format!("{what}: {part:?} is not a number"))?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{what}: {part:?} is outside {min}-{max}"));
        }
        for v in (lo..=hi).step_by(step as usize) {
            set[v as usize] = true;
        }
    }
    Ok((set, any))
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!("{text:?}: a cron expression has 5 fields: minute hour day-of-month month day-of-week"));
        }
        let (minutes, _) = field(parts[0], 0, 59, "minute")?;
        let (hours, _) = field(parts[1], 0, 23, "hour")?;
        let (days, days_any) = field(parts[2], 1, 31, "day of month")?;
        let (months, _) = field(parts[3], 1, 12, "month")?;
        let (mut weekdays, weekdays_any) = field(parts[4], 0, 7, "day of week")?;
        if weekdays[7] {
            weekdays[0] = true;
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_any,
            weekdays_any,
        })
    }

    fn day_matches(&self, t: &NaiveDateTime) -> bool {
        let dom = self.days[t.day() as usize];
        let dow = self.weekdays[t.weekday().num_days_from_sunday() as usize];
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first minute strictly after `t` that matches (within about 5 years).
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut c = t.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let end = t + Duration::days(5 * 366);
        while c <= end {
            if !self.months[c.month() as usize] || !self.day_matches(&c) {
                c = (c.date() + Duration::days(1)).and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.hours[c.hour() as usize] {
                c = c.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes[c.minute() as usize] {
                return Some(c);
            }
            c += Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn next_runs() {
        let c = Cron::parse("*/15 * * * *").unwrap();
        assert_eq!(
            c.next_after(at("2026-11-23 10:07")),
            Some(at("2026-11-23 10:15"))
        );
        let c = Cron::parse("30 2 * * 1-5").unwrap();
        // 2026-11-28 is a Saturday: the next weekday run is Monday the 30th.
        assert_eq!(
            c.next_after(at("2026-11-27 03:00")),
            Some(at("2026-11-30 02:30"))
        );
        let c = Cron::parse("0 0 1 1 *").unwrap();
        assert_eq!(
            c.next_after(at("2026-06-01 00:00")),
            Some(at("2027-01-01 00:00"))
        );
        assert!(Cron::parse("61 * * * *").is_err());
        assert!(Cron::parse("* * *").is_err());
        assert!(Cron::parse("*/0 * * * *").is_err());
    }
}
