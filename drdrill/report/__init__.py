"""Reports of a drill: report.json (the record), report.md, report.html and junit.xml."""
