//! The drill's terminal screen (when stdin and stdout are a terminal): the
//! page and the clock on top, the dashboards as sparklines and the alerts on
//! the left, the trainee's steps on the right, the last answer and the
//! command line at the bottom. The commands are the line protocol's, read
//! from the command line instead of stdin.

use super::drill::{HELP, Reply, command};
use blastradius::drill::Drill;
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline, Wrap};

/// Runs the screen until `end`, Esc, Ctrl-C or the end of the run.
pub fn run(drill: &mut Drill, name: &str) -> std::io::Result<()> {
    let mut terminal = ratatui::init();
    let mut input = String::new();
    let mut answer = format!(
        "You are {} of {name}. You have been paged.\n{HELP}",
        drill.seat.name
    );
    let result = loop {
        if let Err(e) = terminal.draw(|f| draw(f, drill, &input, &answer)) {
            break Err(e);
        }
        let key = match event::read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => k,
            Ok(_) => continue,
            Err(e) => break Err(e),
        };
        match key.code {
            KeyCode::Esc => break Ok(()),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => break Ok(()),
            KeyCode::Char(c) => input.push(c),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Enter => {
                let line = std::mem::take(&mut input);
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if line == "end" {
                    break Ok(());
                }
                answer = match command(drill, line) {
                    Ok(Reply::Screen) => format!("> {line}"),
                    Ok(Reply::Text(t)) => format!("> {line}\n{t}"),
                    Err(e) => format!("> {line}\nrefused: {e}"),
                };
                if drill.over() {
                    break Ok(());
                }
            }
            _ => {}
        }
    };
    ratatui::restore();
    result
}

fn draw(f: &mut Frame, drill: &Drill, input: &str, answer: &str) {
    let [top, middle, bottom, line] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(8),
        Constraint::Length(9),
        Constraint::Length(3),
    ])
    .areas(f.area());
    let view = drill.view();
    f.render_widget(
        Paragraph::new(view.header())
            .block(Block::bordered().title(" on call ".bold()))
            .style(Style::new().fg(Color::White)),
        top,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    dashboards(f, &view, left);
    let mut steps: Vec<Line> = view.steps().into_iter().map(Line::from).collect();
    steps.extend(view.pending().into_iter().map(|p| Line::from(p).yellow()));
    if steps.is_empty() {
        steps.push(Line::from("none yet: `do ACTION KEY=VALUE`"));
    }
    f.render_widget(
        Paragraph::new(steps)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" your steps ")),
        right,
    );
    f.render_widget(
        Paragraph::new(answer.to_string())
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" answer ")),
        bottom,
    );
    f.render_widget(
        Paragraph::new(format!("> {input}"))
            .block(Block::bordered().title(" command (wait, look, do, actions, steps, end) ")),
        line,
    );
}

/// A sparkline per series (scaled to its own peak) and the alerts that
/// reached someone.
fn dashboards(f: &mut Frame, view: &blastradius::drill::View<'_>, area: Rect) {
    let series = view.series();
    let alerts = view.alerts();
    let mut rows: Vec<Constraint> = series.iter().map(|_| Constraint::Length(4)).collect();
    rows.push(Constraint::Min(3));
    let areas = Layout::vertical(rows).split(area);
    for ((name, ys), at) in series.iter().zip(areas.iter()) {
        let top = ys
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let data: Vec<u64> = ys
            .iter()
            .map(|v| {
                if v.is_finite() && top > 0.0 {
                    (v / top * 100.0) as u64
                } else {
                    0
                }
            })
            .collect();
        let title = format!(
            " {name}: {:.3} (peak {top:.3}) ",
            blastradius::drill::latest(ys)
        );
        f.render_widget(
            Sparkline::default()
                .block(Block::bordered().title(title))
                .data(&data)
                .max(100)
                .style(Style::new().fg(Color::Red)),
            *at,
        );
    }
    let lines: Vec<Line> = if alerts.is_empty() {
        vec![Line::from("none reached anyone so far")]
    } else {
        alerts.into_iter().map(Line::from).collect()
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" alerts ")),
        areas[areas.len() - 1],
    );
}
