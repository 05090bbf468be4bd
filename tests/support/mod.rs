pub mod fake_la;
