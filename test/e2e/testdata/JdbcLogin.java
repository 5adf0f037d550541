import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

// Logs in with Debian's PostgreSQL JDBC driver and prints current_user: the e2e test runs
// it to show that an IAM authentication token works as a JDBC password.
// Usage: java -cp /usr/share/java/postgresql.jar JdbcLogin.java URL USER PASSWORD
public class JdbcLogin {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        try (Connection c = DriverManager.getConnection(args[0], props);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT current_user")) {
            r.next();
            System.out.println(r.getString(1));
        }
    }
}
