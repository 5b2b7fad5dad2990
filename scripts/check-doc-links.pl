#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# scripts/check-doc-links.pl: every relative link in the project's markdown
# resolves and every #anchor names a heading of its target (GitHub's
# slugs), so a moved file or a renamed section shows at once.  Exit 1 and
# one line per broken link when there is one.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
chdir $root or die "$root: $!\n";
my @docs = split /\0/, `git ls-files -z -- '*.md'`;

# GitHub's slug: lower case, markup and punctuation out, spaces to '-'
sub slug {
    my ($h) = @_;
    $h = lc $h;
    $h =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;
    $h =~ s/[^\w\- ]//g;
    $h =~ tr/ /-/;
    return $h;
}

# lines outside ``` fences
sub prose {
    my ($file) = @_;
    open(my $in, '<:encoding(UTF-8)', $file) or die "$file: $!\n";
    my ($fence, @lines) = (0);
    while (my $line = <$in>) {
        if ($line =~ /^\s*```/) { $fence = !$fence; push @lines, ''; next }
        push @lines, $fence ? '' : $line;
    }
    return @lines;
}

my %anchors;
sub anchors_of {
    my ($file) = @_;
    return $anchors{$file} //= do {
        my (%set, %seen);
        for (prose($file)) {
            if (/^#{1,6}\s+(.*?)\s*#*\s*$/) {
                my $s = slug($1);
                my $n = $seen{$s}++;
                $set{$n ? "$s-$n" : $s} = 1;
            }
            $set{$1} = 1 for /<a\s+(?:name|id)="([^"]+)"/g;
        }
        \%set;
    };
}

my $bad = 0;
for my $doc (@docs) {
    my @lines = prose($doc);
    for my $i (0 .. $#lines) {
        (my $line = $lines[$i]) =~ s/`[^`]*`//g;
        for my $target ($line =~ /\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g) {
            next if $target =~ /^[a-z][a-z0-9+.-]*:/i;     # http:, mailto:
            my ($path, $anchor) = split /#/, $target, 2;
            my $file = length $path
                ? File::Spec->canonpath(dirname($doc) . "/$path") : $doc;
            my $where = "$doc:" . ($i + 1);
            if (!-e $file) {
                print "$where: no file $target\n";
                $bad++;
            } elsif (defined $anchor && $file =~ /\.md$/
                     && !anchors_of($file)->{$anchor}) {
                print "$where: no heading #$anchor in $file\n";
                $bad++;
            }
        }
    }
}
printf "%d documents, %d broken links\n", scalar @docs, $bad;
exit($bad ? 1 : 0);
