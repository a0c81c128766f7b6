#!/usr/bin/perl
# Replica lag sampler for scripts/bench on MariaDB/MySQL. Every 100ms it
# writes a heartbeat row on the primary (NOW(6)) and reads it back on the
# replica, printing one line per sample:
#
#   <unix seconds> <lag seconds, from the heartbeat> <Seconds_Behind_Master> <write ms>
#
# The last column times the heartbeat's write and commit on the primary (one
# autocommit statement): what a one-row application write waits for.
# The heartbeat lag has ~100ms resolution (the write period); it is 0.0-0.1s
# on an idle, caught-up replica. Seconds_Behind_Master is whole seconds and
# shown only for comparison. A failed read prints NA (and reconnects).
#
#   bench/mysql_lag_sampler.pl PRIMARY_PORT REPLICA_PORT DATABASE CLIENT_CNF
#
# CLIENT_CNF is a my.cnf-style file with a [client] section holding user and
# password, so neither appears on a command line.
use strict;
use warnings;
use DBI;
use Time::HiRes qw(time sleep);

my ($primary_port, $replica_port, $db, $cnf) = @ARGV;
die "usage: $0 PRIMARY_PORT REPLICA_PORT DATABASE CLIENT_CNF\n" unless $cnf;

sub connect_to {
  my ($port) = @_;
  return DBI->connect(
    "DBI:mysql:database=$db;host=127.0.0.1;port=$port;"
      . "mysql_read_default_file=$cnf;mysql_read_default_group=client",
    undef, undef, {RaiseError => 0, PrintError => 0, AutoCommit => 1});
}

my $primary = connect_to($primary_port) or die "primary: $DBI::errstr\n";
$primary->do("CREATE TABLE IF NOT EXISTS bench_heartbeat "
    . "(id int PRIMARY KEY, ts datetime(6) NOT NULL) ENGINE=InnoDB")
  or die "heartbeat table: " . $primary->errstr . "\n";
my $replica;
$| = 1;

my $next = time;
while (1) {
  my $t0 = time;
  my $wrote = $primary->do("INSERT INTO bench_heartbeat VALUES (1, NOW(6)) "
      . "ON DUPLICATE KEY UPDATE ts = VALUES(ts)");
  my $write_ms = $wrote ? sprintf("%.3f", (time - $t0) * 1000) : 'NA';
  $primary = connect_to($primary_port) || $primary unless $wrote;
  $replica ||= connect_to($replica_port);
  my ($lag, $sbm) = ('NA', 'NA');
  if ($replica) {
    my ($v) = $replica->selectrow_array(
      "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) / 1e6 "
        . "FROM bench_heartbeat WHERE id = 1");
    if (defined $v) {
      $lag = sprintf("%.3f", $v);
      my $st = $replica->selectrow_hashref("SHOW SLAVE STATUS");
      $sbm = $st->{Seconds_Behind_Master} // 'NA' if $st;
    } elsif ($replica->err) {
      $replica = undef;
    }
  }
  printf "%.3f %s %s %s\n", time, $lag, $sbm, $write_ms;
  $next += 0.1;
  my $d = $next - time;
  if ($d > 0) { sleep $d } else { $next = time }
}
